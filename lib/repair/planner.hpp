// Internal: the state of one repair plan, shared by repair.cpp (refcount
// fixes, flags, header) and rebuild.cpp (the refcount structure rebuild).
#pragma once

#include "repair/repair.hpp"
#include "io/table_editor.hpp"

#include "refcount/refcount_reader.hpp"

#include <memory>
#include <unordered_map>

namespace imgmend::repair {

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
    RepairOutcome out_;
    io::TableEditor l2_editor_; // L2 tables edited by more than one pass
    std::unordered_map<uint64_t, int64_t> adjust_;      // change to the counted references
    std::unordered_map<uint64_t, uint64_t> new_refcount_; // planned on-disk refcounts
    std::vector<uint64_t> freed_;                        // clusters whose refcount drops to 0
    bool left_alone_ = false; // something stays unrepaired
    // On-disk refcounts of clusters the check never compared (past the end of the file).
    std::unique_ptr<refcount::RefcountReader> beyond_reader_;
};

} // namespace imgmend::repair
