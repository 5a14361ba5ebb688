#include "refcount/refcount_reader.hpp"

#include "refcount/refcount_block.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>

namespace imgmend::refcount {

using util::Errc;
using util::fail;

Result<std::vector<uint64_t>> read_refcount_table(io::BlockDevice& dev, const qcow2::Header& header)
{
    uint64_t offset = header.refcount_table_offset;
    uint64_t wanted = uint64_t{header.refcount_table_clusters} * header.cluster_size();
    uint64_t available = offset >= dev.size() ? 0 : std::min(wanted, dev.size() - offset);
    std::vector<uint8_t> bytes(available / 8 * 8);
    if (!bytes.empty())
        TRY(dev.read(offset, bytes));
    std::vector<uint64_t> table(bytes.size() / 8);
    for (size_t i = 0; i < table.size(); ++i)
        table[i] = util::load_be64(bytes, i * 8);
    return table;
}

Result<uint64_t> RefcountReader::refcount(uint64_t cluster_index)
{
    uint64_t table_index = cluster_index / geometry_.refblock_entries;
    if (table_index >= table_.size())
        return 0;
    uint64_t block = table_[table_index] & reftable_offset_mask;
    if (block == 0)
        return 0;
    if (block % geometry_.cluster_size != 0)
        return fail(Errc::corrupt_metadata, "Refblock offset {:#x} unaligned (reftable index: {:#x})", block,
                    table_index);
    if (block != cached_block_offset_ || cached_block_.empty()) {
        if (!util::range_within(block, geometry_.cluster_size, dev_.size()))
            return fail(Errc::truncated, "Refblock at {:#x} is beyond the end of the file (reftable index: {:#x})",
                        block, table_index);
        cached_block_.resize(geometry_.cluster_size);
        TRY(dev_.read(block, cached_block_));
        cached_block_offset_ = block;
    }
    return get_entry(cached_block_, geometry_.refcount_order, cluster_index % geometry_.refblock_entries);
}

} // namespace imgmend::refcount
