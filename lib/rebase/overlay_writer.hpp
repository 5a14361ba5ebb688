// Writes guest data into an overlay's unallocated subclusters for a rebase:
// data subclusters (into the entry's existing host cluster when it is ours
// alone, else into a new cluster), zero subclusters (the v3 zero flag or the
// extended-L2 zero bit, no data), and whole compressed clusters. Data goes
// to the file before the caller's flush (into space nothing references
// yet): adjacent on the host (new clusters come one after another from the
// end of file), it goes out as one gathered write. The L2
// and L1 changes are kept in memory and planned after the refcounts.
#pragma once

#include "io/table_editor.hpp"
#include "qcow2/image.hpp"
#include "rebase/allocator.hpp"

#include <memory>
#include <span>
#include <vector>

namespace imgmend::rebase {

struct ClusterUpdate {
    uint64_t guest_cluster;                 // index
    // The whole cluster's new content (guest view); only the write_mask
    // subclusters are needed, unless compress. Must stay valid until
    // write_pending(), unless `owner` keeps it alive.
    std::span<const uint8_t> data;
    std::shared_ptr<const void> owner;      // e.g. the mapping data points into
    uint32_t write_mask = 0;                // subclusters to write as data
    uint32_t zero_mask = 0;                 // subclusters to mark as zeros
    bool compress = false;                  // write the whole cluster compressed
};

class OverlayWriter {
public:
    OverlayWriter(qcow2::Image& image, ClusterAllocator& allocator);

    Result<void> apply(const ClusterUpdate& update);
    // Issues the data writes apply() held back to coalesce them; call it
    // before a buffer they point into changes, and before the flush.
    Result<void> write_pending();
    // Data written so far is flushed by the caller; this plans the L2/L1 changes.
    Result<void> plan_tables(io::Plan& plan);

    uint64_t clusters_allocated() const { return clusters_allocated_; }
    uint64_t compressed_clusters() const { return compressed_; }

private:
    // Queues bytes from the caller's buffer, joined to the pending write
    // when they continue it on the host.
    Result<void> write_data(uint64_t offset, std::span<const uint8_t> bytes, const std::shared_ptr<const void>& owner);
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
    // Data writes held back: adjacent on the host, from anywhere in memory.
    uint64_t pending_offset_ = 0;
    uint64_t pending_bytes_ = 0;
    std::vector<std::span<const uint8_t>> pending_;
    std::vector<std::shared_ptr<const void>> pending_owners_;
};

} // namespace imgmend::rebase
