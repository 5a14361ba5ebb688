// Writes guest data into an overlay's unallocated subclusters for a rebase:
// data subclusters (into the entry's existing host cluster when it is ours
// alone, else into a new cluster), zero subclusters (the v3 zero flag or the
// extended-L2 zero bit, no data), and whole compressed clusters. Data goes
// to the file at once (into space nothing references yet); the L2 and L1
// changes are kept in memory and planned after the refcounts.
#pragma once

#include "io/table_editor.hpp"
#include "qcow2/image.hpp"
#include "rebase/allocator.hpp"

#include <vector>

namespace imgmend::rebase {

struct ClusterUpdate {
    uint64_t guest_cluster;                 // index
    std::vector<uint8_t> data;              // the whole cluster's new content (guest view)
    uint32_t write_mask = 0;                // subclusters to write as data
    uint32_t zero_mask = 0;                 // subclusters to mark as zeros
    bool compress = false;                  // write the whole cluster compressed
};

class OverlayWriter {
public:
    OverlayWriter(qcow2::Image& image, ClusterAllocator& allocator);

    Result<void> apply(const ClusterUpdate& update);
    // Data written so far is flushed by the caller; this plans the L2/L1 changes.
    Result<void> plan_tables(io::Plan& plan);

    uint64_t clusters_allocated() const { return clusters_allocated_; }
    uint64_t compressed_clusters() const { return compressed_; }

private:
    Result<void> write_data(uint64_t offset, std::span<const uint8_t> bytes);
    Result<std::vector<uint8_t>*> l2_for(uint64_t guest_cluster, uint64_t& entry_at);
    Result<bool> write_compressed(const ClusterUpdate& update, uint64_t& raw);

    qcow2::Image& image_;
    const qcow2::Geometry& g_;
    ClusterAllocator& allocator_;
    io::TableEditor tables_;           // existing L2 tables and the L1 table
    std::map<uint64_t, std::vector<uint8_t>> new_l2_; // host offset -> content
    std::map<uint64_t, uint64_t> l1_changes_;         // L1 index -> entry
    uint64_t clusters_allocated_ = 0;
    uint64_t compressed_ = 0;
    // Compressed streams are packed one after another into clusters taken
    // from the end of the file.
    uint64_t packed_cluster_ = 0;
    uint64_t packed_used_ = 0;
};

} // namespace imgmend::rebase
