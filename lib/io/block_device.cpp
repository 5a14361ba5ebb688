#include "io/block_device.hpp"

#include "util/cursor.hpp"

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

Result<void> BlockDevice::write_uncached(uint64_t offset, std::span<const std::span<const uint8_t>> parts)
{
    for (const auto& part : parts) {
        TRY(write(offset, part));
        offset += part.size();
    }
    return {};
}

Result<std::vector<uint64_t>> read_be64_table(BlockDevice& dev, uint64_t offset, uint64_t bytes)
{
    uint64_t available = offset >= dev.size() ? 0 : std::min(bytes, dev.size() - offset);
    std::vector<uint8_t> raw(available / 8 * 8);
    if (!raw.empty())
        TRY(dev.read(offset, raw));
    std::vector<uint64_t> table(raw.size() / 8);
    for (size_t i = 0; i < table.size(); ++i)
        table[i] = util::load_be64(raw, i * 8);
    return table;
}

} // namespace imgmend::io
