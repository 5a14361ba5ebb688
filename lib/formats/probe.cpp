#include "formats/probe.hpp"

#include "qcow2/header.hpp"
#include "util/cursor.hpp"

#include <array>

namespace imgmend::formats {

util::Result<Format> probe_format(io::BlockDevice& dev)
{
    std::array<uint8_t, 4> magic{};
    if (dev.size() < magic.size())
        return Format::raw;
    TRY(dev.read(0, magic));
    return util::load_be32(magic, 0) == qcow2::magic ? Format::qcow2 : Format::raw;
}

util::Result<Format> parse_format(const std::string& name)
{
    if (name == "qcow2")
        return Format::qcow2;
    if (name == "raw")
        return Format::raw;
    return util::fail(util::Errc::unsupported_feature, "Unknown or unsupported image format '{}'", name);
}

} // namespace imgmend::formats
