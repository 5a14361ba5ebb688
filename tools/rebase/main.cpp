#include "rebase/rebase_command.hpp"

int main(int argc, char** argv) { return imgmend::tools::rebase_main(argc, argv); }
