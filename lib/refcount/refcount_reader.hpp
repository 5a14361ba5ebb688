// Reads on-disk refcounts through the refcount table (../shared/ref/qcow2-spec.txt,
// "Host cluster management"): reftable entry = offset of a refcount block
// (bits 9-63, cluster aligned; bits 0-8 reserved), 0 = every refcount in
// its range is zero.
#pragma once

#include "io/block_device.hpp"
#include "qcow2/header.hpp"
#include "qcow2/geometry.hpp"

#include <vector>

namespace imgmend::refcount {

using util::Result;

inline constexpr uint64_t reftable_offset_mask = 0xfffffffffffffe00ull;

// The refcount table, read from the part of it that lies inside the file
// (at most qemu's 8 MiB cap, checked by the header parser).
Result<std::vector<uint64_t>> read_refcount_table(io::BlockDevice& dev, const qcow2::Header& header);

class RefcountReader {
public:
    RefcountReader(io::BlockDevice& dev, const qcow2::Geometry& geometry, std::vector<uint64_t> table)
        : dev_(dev), geometry_(geometry), table_(std::move(table))
    {
    }
    // The refcount of host cluster `cluster_index`; errors for a block that
    // is unaligned or beyond the end of the file.
    Result<uint64_t> refcount(uint64_t cluster_index);
    const std::vector<uint64_t>& table() const { return table_; }

private:
    io::BlockDevice& dev_;
    qcow2::Geometry geometry_;
    std::vector<uint64_t> table_;
    uint64_t cached_block_offset_ = 0;
    std::vector<uint8_t> cached_block_;
};

} // namespace imgmend::refcount
