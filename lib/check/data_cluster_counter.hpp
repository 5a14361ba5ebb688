// The checker's fast path for the reference that makes up nearly all of an
// image: one whole, aligned data cluster inside the file, from a standard
// (8-byte) L2 entry. It counts such entries a run at a time and stops at the
// first one it cannot take — compressed, reserved bits, unaligned, past the
// end of the file, a cluster already used as metadata, a second user where
// no snapshot can explain one, a count near the width's maximum — leaving
// it (unchanged) to the general path and its findings.
#pragma once

#include "check/cluster_bits.hpp"
#include "check/cluster_counts.hpp"

#include <cstddef>
#include <cstdint>

namespace imgmend::check {

// What a run of entries adds to check's allocation figures (active tables).
struct RunFigures {
    uint64_t allocated = 0;
    uint64_t fragmented = 0;
    uint64_t next_contiguous = 0; // host offset that continues the previous cluster
    bool all_copied = true;       // every counted entry had OFLAG_COPIED
};

class DataClusterCounter {
public:
    // `counts` is sized for the file when the counter is made: the clusters
    // it grows by later (for references ending less than a cluster past the
    // end of the file) still lie beyond the file for a whole data cluster.
    DataClusterCounter(ClusterCounts& counts, const ClusterBits& metadata_use, bool shareable, uint32_t cluster_bits)
        : counts_(counts), metadata_use_(metadata_use), shareable_(shareable), cluster_bits_(cluster_bits),
          file_clusters_(counts.size())
    {
    }

    // Counts the entries of `table` (big-endian 8-byte L2 entries) from
    // index `first` to `end`, up to the first it leaves to the general
    // path; returns that entry's index (`end` when it took them all).
    size_t count_run(const uint8_t* table, size_t first, size_t end, RunFigures& figures) const;

private:
    ClusterCounts& counts_;
    const ClusterBits& metadata_use_;
    bool shareable_;
    uint32_t cluster_bits_;
    uint64_t file_clusters_;
};

} // namespace imgmend::check
