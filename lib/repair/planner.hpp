// Internal: the state of one repair plan, shared by repair.cpp (refcount
// fixes, flags, header) and rebuild.cpp (the refcount structure rebuild).
#pragma once

#include "repair/repair.hpp"
#include "io/table_editor.hpp"
#include "repair/unfollowed_references.hpp"

#include "refcount/refcount_reader.hpp"

#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace imgmend::repair {

// A sparse per-cluster map with a presence bit per cluster of the file: the
// passes over every cluster of a large image ask about almost every one, and
// a miss then costs a bit test rather than a hash lookup.
template <typename V>
class ClusterMap {
public:
    explicit ClusterMap(uint64_t clusters = 0) : present_(clusters) {}
    const V* find(uint64_t c) const
    {
        if (c < present_.size() && !present_[c])
            return nullptr;
        auto it = map_.find(c);
        return it == map_.end() ? nullptr : &it->second;
    }
    V& operator[](uint64_t c)
    {
        if (c < present_.size())
            present_[c] = true;
        return map_[c];
    }
    const std::unordered_map<uint64_t, V>& all() const { return map_; }

private:
    std::vector<bool> present_;
    std::unordered_map<uint64_t, V> map_;
};

// Freed runs smaller than this stay in the file (qemu reuses free clusters
// first, so the space is not lost): each hole punch costs a file system
// transaction (~0.1 ms on ext4: a leak repair of 130,000 scattered 4 KiB
// clusters spent 5 of its 6 seconds punching) and splits the file's
// extents, making later reads of the neighbouring data slower.
inline constexpr uint64_t min_discard_bytes = 64 * 1024;

// "kept: leaked cluster ..." lines said one by one; past this, one line
// says how many more there are.
inline constexpr uint64_t max_listed_refusals = 1000;

// Clusters a repair frees, as runs of adjacent clusters. They come in
// increasing order nearly always, so a run still shorter than
// min_discard_bytes when the next one starts is dropped: memory stays
// bounded by the runs worth a discard. (A cluster out of order at worst
// loses its discard; it is free all the same.)
class FreedRuns {
public:
    explicit FreedRuns(uint64_t cluster_size);
    void add(uint64_t cluster);
    // The runs (first, last), sorted and merged.
    std::vector<std::pair<uint64_t, uint64_t>> runs() const;

private:
    uint64_t min_clusters_;
    std::vector<std::pair<uint64_t, uint64_t>> runs_;
};

// Discard steps for the freed clusters' runs of at least min_discard_bytes,
// each clipped to the file.
void plan_discards(io::Plan& plan, const FreedRuns& freed, uint64_t cluster_size, uint64_t file_size,
                   std::string_view what);

class Planner {
public:
    Planner(qcow2::Image& image, check::CheckState state, RepairMode mode);
    Result<RepairOutcome> run();
    // Something the check found that stays unrepaired, said before run().
    void leave_alone(std::string why);

private:
    uint64_t on_disk(uint64_t cluster) const;
    uint64_t expected(uint64_t cluster) const;
    uint64_t final_refcount(uint64_t cluster) const;
    bool conflict(uint64_t cluster) const;
    bool pointer_corruptions() const;

    Result<void> fix_l2_entries();
    Result<void> fix_refcounts_in_place();
    Result<void> rebuild_refcounts();
    Result<void> fix_copied_flags();
    void discard_freed();
    void fix_header_bits();
    bool anything_left() const;

    qcow2::Image& image_;
    const qcow2::Geometry& g_;
    check::CheckState state_;
    RepairMode mode_;
    // Where references the check could not follow point (a table too long
    // for the file, say): never rewritten in place.
    UnfollowedReferences unfollowed_;
    RepairOutcome out_;
    io::TableEditor l2_editor_; // L2 tables edited by more than one pass
    std::unordered_set<uint64_t> edited_l2_; // offsets of the tables in l2_editor_
    ClusterMap<int64_t> adjust_;          // change to the counted references
    check::ClusterValues new_refcount_;   // planned on-disk refcounts
    FreedRuns freed_;                     // clusters whose refcount drops to 0
    bool left_alone_ = false; // something stays unrepaired
    uint64_t kept_orphans_ = 0; // leaked clusters kept while damaged pointers remain
    // On-disk refcounts of clusters the check never compared (past the end of the file).
    std::unique_ptr<refcount::RefcountReader> beyond_reader_;
};

} // namespace imgmend::repair
