// Walks every structure of a qcow2 image that references host clusters, in
// qemu-img check's order: header, active L1 and L2 tables, each snapshot's
// tables, the snapshot table, the refcount table, the encryption header and
// the bitmaps. Each reference goes to a callback with its Role; structural
// findings on the way (reserved bits, misalignment, ...) go to the report.
// Refcount blocks are not walked here: checking them needs the counts.
#pragma once

#include "check/data_cluster_counter.hpp"
#include "check/report.hpp"
#include "check/role.hpp"
#include "qcow2/bitmap.hpp"
#include "qcow2/image.hpp"
#include "qcow2/snapshot.hpp"

#include <functional>

namespace imgmend::check {

using util::Result;

enum class Reporting { findings, silent };

// Returns false when the reference could not be counted.
using ReferenceFn = std::function<void(uint64_t offset, uint64_t size, const Role& role)>;

struct WalkInputs {
    const qcow2::SnapshotTable* snapshots = nullptr; // null when unreadable
    const std::vector<qcow2::BitmapEntry>* bitmaps = nullptr;
    bool bitmap_directory_damaged = false;
};

class ReferenceWalker {
public:
    ReferenceWalker(qcow2::Image& image, WalkInputs inputs, Reporting reporting, CheckReport& report,
                    ReferenceFn on_reference)
        : image_(image), inputs_(inputs), reporting_(reporting), report_(report), on_ref_(std::move(on_reference))
    {
    }

    // Everything but the refcount blocks.
    Result<void> walk();
    void set_progress(std::function<void(uint64_t, uint64_t)> progress) { progress_ = std::move(progress); }
    // Ordinary data clusters go to `counter` instead of the callback.
    void set_data_counter(const DataClusterCounter* counter) { counter_ = counter; }
    // After walk(): every allocated entry of the active L2 tables was an
    // ordinary data cluster (taken by the data counter) with OFLAG_COPIED
    // set. Then, when nothing shares clusters, their refcounts are all 1 and
    // the flags need no second look.
    bool active_entries_ordinary_and_copied() const { return active_ordinary_copied_; }

private:
    Result<void> walk_l1(uint64_t l1_offset, uint64_t l1_size, const std::optional<std::string>& snapshot);
    void walk_l2(uint64_t l2_offset, const Result<std::span<const uint8_t>>& table, uint64_t l1_index,
                 const std::optional<std::string>& snapshot);
    void walk_snapshots();
    void walk_bitmaps();
    void note(Finding f);

    qcow2::Image& image_;
    WalkInputs inputs_;
    Reporting reporting_;
    CheckReport& report_;
    ReferenceFn on_ref_;
    std::function<void(uint64_t, uint64_t)> progress_;
    const DataClusterCounter* counter_ = nullptr;
    bool active_ordinary_copied_ = true;
    uint64_t l2_done_ = 0;
    uint64_t l2_total_ = 0;
};

} // namespace imgmend::check
