// Internal state of one check run, shared by the files that implement its
// passes (checker.cpp, refcount_compare.cpp, warnings.cpp).
#pragma once

#include "check/check.hpp"
#include "check/cluster_counts.hpp"
#include "check/cluster_values.hpp"
#include "check/reference_walker.hpp"

#include <unordered_map>

namespace imgmend::check {

class Checker {
public:
    Checker(qcow2::Image& image, const CheckOptions& options);
    Result<CheckState> run();

private:
    // Counts one reference to [offset, offset + size), as qemu's
    // qcow2_inc_refcounts_imrt: refused when it ends a cluster or more past
    // the end of the file; saturating (and reported) at the width's maximum.
    void count_reference(uint64_t offset, uint64_t size, const Role& role);
    void read_snapshots();
    void read_bitmaps();
    void check_refcount_blocks();
    Result<void> compare_refcounts();
    void record_mismatch(uint64_t cluster, uint64_t on_disk, uint64_t counted);
    enum class CopiedScope { l1_only, l1_and_l2 };
    Result<void> check_copied_flags(CopiedScope scope);
    void attribute_owners();
    void add_warnings();
    void verify_compressed_clusters();
    Result<uint64_t> on_disk_refcount(uint64_t cluster);

    qcow2::Image& image_;
    const CheckOptions& options_;
    const qcow2::Geometry& geometry_;
    io::BlockDevice& dev_;
    uint64_t file_size_;
    ClusterCounts counts_;
    ClusterBits metadata_use_; // cluster holds metadata
    CheckReport report_;
    std::optional<qcow2::SnapshotTable> snapshots_;
    std::optional<std::vector<qcow2::BitmapEntry>> bitmaps_;
    bool bitmap_directory_damaged_ = false;
    std::vector<uint64_t> reftable_;
    // On-disk refcounts that differ from the counted ones (found by
    // compare_refcounts); everywhere else the two agree.
    ClusterValues mismatches_;
    ClusterBits disagrees_{0}; // in mismatches_ or unreadable_ (sized by compare_refcounts)
    std::vector<uint64_t> unreadable_;
    std::vector<uint64_t> conflicts_;
    std::vector<std::pair<uint64_t, uint64_t>> references_beyond_end_; // bounded, see note_beyond_end
    void note_beyond_end(uint64_t first, uint64_t last);
    bool rebuild_needed_ = false;
    uint64_t cached_block_offset_ = 0;
    std::vector<uint8_t> cached_block_;
};

} // namespace imgmend::check
