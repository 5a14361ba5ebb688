// Cluster allocation for writes into an existing qcow2 image: new clusters
// come from a tracked end of file (never one truncate per cluster), and the
// refcount changes are batched and turned into plan steps at the end — new
// refcount blocks where a range has none, and a larger refcount table
// (written elsewhere, then switched in the header) when the table is full.
#pragma once

#include "io/table_editor.hpp"
#include "io/write_plan.hpp"
#include "qcow2/image.hpp"

#include <map>
#include <optional>

namespace imgmend::rebase {

using util::Result;

class ClusterAllocator {
public:
    explicit ClusterAllocator(qcow2::Image& image);

    // A new cluster at the end of the file, with a reference counted.
    uint64_t allocate();
    // Adds (or with delta -1 drops) a reference to an existing cluster.
    void add_reference(uint64_t cluster_offset, int64_t delta = 1);
    uint64_t end_of_file() const { return end_; }

    // Refcount updates as plan steps: new blocks and in-place edits, flush,
    // then the table entries (or a new table and the header switch), flush.
    Result<void> plan_refcounts(io::Plan& plan);
    // Where plan_refcounts moved the refcount table, if it had to.
    std::optional<std::pair<uint64_t, uint32_t>> moved_table() const { return moved_table_; }

private:
    qcow2::Image& image_;
    const qcow2::Geometry& g_;
    uint64_t end_;
    std::map<uint64_t, int64_t> deltas_; // cluster index -> refcount change
    std::optional<std::pair<uint64_t, uint32_t>> moved_table_;
};

} // namespace imgmend::rebase
