#include "formats/raw_layer.hpp"

#include <algorithm>

namespace imgmend::formats {

uint64_t sector_rounded(uint64_t bytes) { return (bytes + 511) / 512 * 512; }

Result<LayerStatus> RawLayer::status(uint64_t offset, uint64_t max_length)
{
    LayerStatus s;
    s.offset = offset;
    s.file = file_.get();
    if (offset >= file_->size()) {
        // The tail of the last partial sector, past the real end of file.
        s.zero = true;
        s.length = max_length;
        return s;
    }
    io::AllocationRun run = TRY(file_->allocation_at(offset));
    s.length = std::min(max_length, run.length);
    s.data = run.state == io::Allocation::data;
    s.zero = !s.data;
    return s;
}

Result<void> RawLayer::read(uint64_t offset, const LayerStatus&, std::span<uint8_t> out)
{
    return file_->read_zero_padded(offset, out);
}

} // namespace imgmend::formats
