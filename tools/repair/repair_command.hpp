#pragma once

namespace imgmend::tools {

// imgmend-repair: qemu-img check -r, without the data loss.
int repair_main(int argc, char** argv);

} // namespace imgmend::tools
