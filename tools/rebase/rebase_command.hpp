#pragma once

namespace imgmend::tools {

// imgmend-rebase: move an overlay onto a new backing file, guest view unchanged.
int rebase_main(int argc, char** argv);

} // namespace imgmend::tools
