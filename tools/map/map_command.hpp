#pragma once

namespace imgmend::tools {

// imgmend-map: the allocation of every guest byte through the chain.
int map_main(int argc, char** argv);

} // namespace imgmend::tools
