// Sizes derived from the header: cluster, L2 and subcluster geometry, the
// compressed-descriptor split and the refcount width.
#pragma once

#include "qcow2/header.hpp"

namespace imgmend::qcow2 {

struct Geometry {
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint32_t l2_entry_bytes;    // 8, or 16 with extended L2
    uint64_t l2_entries;        // entries per L2 table (one cluster)
    uint32_t subclusters;       // per cluster: 1, or 32 with extended L2
    uint64_t subcluster_size;
    uint32_t csize_shift;       // x = 62 - (cluster_bits - 8)
    uint64_t csize_mask;        // width of the sector count field
    uint32_t refcount_order;
    uint32_t refcount_bits;
    uint64_t refblock_entries;  // refcounts per refcount block
    uint64_t virtual_size;
    bool data_file;             // external data file: offset 0 with COPIED is allocated

    uint64_t bytes_per_l2() const { return l2_entries * cluster_size; }
    uint64_t bytes_per_refblock() const { return refblock_entries * cluster_size; }
};

Geometry make_geometry(const Header& header);

} // namespace imgmend::qcow2
