#include "common/open_chain.hpp"

namespace imgmend::tools {

util::Result<formats::Chain> open_chain_from_options(const po::variables_map& vm, formats::OpenOptions options)
{
    if (vm.count("format"))
        options.format = TRY(formats::parse_format(vm["format"].as<std::string>()));
    if (vm.count("force-share"))
        options.lock = io::LockMode::none;
    return formats::Chain::open(vm["image"].as<std::string>(), options);
}

} // namespace imgmend::tools
