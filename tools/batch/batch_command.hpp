#pragma once

namespace imgmend::tools {

// imgmend batch: check every qcow2 image under some paths, in parallel.
int batch_main(int argc, char** argv);

} // namespace imgmend::tools
