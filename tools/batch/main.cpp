#include "batch/batch_command.hpp"

int main(int argc, char** argv) { return imgmend::tools::batch_main(argc, argv); }
