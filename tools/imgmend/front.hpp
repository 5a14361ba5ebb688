#pragma once

namespace imgmend::tools {

// `imgmend COMMAND ...`: runs the same code as the imgmend-COMMAND executables.
int front_main(int argc, char** argv);

} // namespace imgmend::tools
