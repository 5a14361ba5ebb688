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
    return io::read_be64_table(dev, header.refcount_table_offset,
                               uint64_t{header.refcount_table_clusters} * header.cluster_size());
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
