// Turns the common image options (-f, -U) into an opened chain.
#pragma once

#include "common/options.hpp"
#include "formats/chain.hpp"

namespace imgmend::tools {

util::Result<formats::Chain> open_chain_from_options(const po::variables_map& vm, formats::OpenOptions options);

} // namespace imgmend::tools
