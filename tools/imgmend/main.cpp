#include "imgmend/front.hpp"

int main(int argc, char** argv) { return imgmend::tools::front_main(argc, argv); }
