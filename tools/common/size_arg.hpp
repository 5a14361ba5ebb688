// Sizes on the command line: a decimal number with an optional binary
// suffix (k, M, G, T, P, E; case-insensitive), as qemu-img accepts them.
#pragma once

#include "util/result.hpp"

#include <string_view>

namespace imgmend::tools {

util::Result<uint64_t> parse_size(std::string_view text);

} // namespace imgmend::tools
