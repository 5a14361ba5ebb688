#include "repair/repair_command.hpp"

int main(int argc, char** argv) { return imgmend::tools::repair_main(argc, argv); }
