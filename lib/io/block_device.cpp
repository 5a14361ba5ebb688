#include "io/block_device.hpp"

#include <algorithm>

namespace imgmend::io {

Result<void> BlockDevice::read_zero_padded(uint64_t offset, std::span<uint8_t> out)
{
    uint64_t end = size();
    uint64_t available = offset >= end ? 0 : std::min<uint64_t>(end - offset, out.size());
    if (available > 0)
        TRY(read(offset, out.first(available)));
    std::fill(out.begin() + available, out.end(), 0);
    return {};
}

} // namespace imgmend::io
