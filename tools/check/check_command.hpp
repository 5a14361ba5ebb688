#pragma once

namespace imgmend::tools {

// imgmend-check: every qcow2 inconsistency found, located and explained.
int check_main(int argc, char** argv);

} // namespace imgmend::tools
