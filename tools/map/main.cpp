#include "map/map_command.hpp"

int main(int argc, char** argv) { return imgmend::tools::map_main(argc, argv); }
