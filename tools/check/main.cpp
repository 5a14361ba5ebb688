#include "check/check_command.hpp"

int main(int argc, char** argv) { return imgmend::tools::check_main(argc, argv); }
