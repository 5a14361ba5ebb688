// One inconsistency found in an image: what, how bad, where, and which
// repair fixes it. Findings are data (the checker's result), not errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imgmend::check {

enum class Severity { corruption, leak, warning, check_error };

enum class Repair { none, leaks, all };

enum class FindingKind {
    refcount_too_low,        // on-disk refcount below the references found
    refcount_too_high,       // on-disk refcount above the references (leak)
    refcount_overflow,       // more references than the refcount width holds
    beyond_end_of_file,      // a reference to a region past the end of the file
    unaligned_l2_table,      // L1 entry not cluster aligned
    unaligned_data_cluster,  // L2 entry not cluster aligned (data)
    unaligned_prealloc_zero, // preallocated zero cluster not aligned
    l1_reserved_bits,
    l2_reserved_bits,
    compressed_copied,       // compressed entry with OFLAG_COPIED
    compressed_with_bitmap,  // compressed entry with a subcluster bitmap
    compressed_with_data_file,
    subcluster_alloc_and_zero, // extended L2: a subcluster allocated and zero
    unallocated_with_bitmap,   // extended L2: allocation bits without a cluster
    copied_l1_mismatch,        // OFLAG_COPIED in an L1 entry disagrees with refcount
    copied_l2_mismatch,        // OFLAG_COPIED in an L2 entry disagrees with refcount
    refblock_reserved_bits,
    refblock_unaligned,
    refblock_outside_image,
    refblock_refcount,         // a refcount block whose own refcount is not 1
    refcount_unreadable,       // on-disk refcount cannot be read (check error)
    snapshot_l1_unaligned,
    snapshot_l1_too_large,
    snapshot_table_damaged,    // entry too large, incomplete, or unreadable
    snapshots_with_data_file,
    bitmap_directory_damaged,
    bitmap_table_damaged,
    bitmap_in_use,             // warning
    table_unreadable,          // an I/O error reading a table (check error)
    dirty_bit,                 // warning: lazy refcounts not yet written back
    corrupt_bit,               // warning: qemu marked the image corrupt
    unknown_autoclear_bits,    // warning
    refcount_beyond_end,       // warning: non-zero refcounts past the end of file
    compressed_undecodable,    // warning (--verify-compressed)
};
inline constexpr size_t finding_kind_count = static_cast<size_t>(FindingKind::compressed_undecodable) + 1;

std::string_view to_string(FindingKind kind);
std::string_view to_string(Severity severity);
std::string_view to_string(Repair repair);

struct Finding {
    FindingKind kind;
    Severity severity;
    Repair repair = Repair::none;
    std::string message; // qemu-img check's wording where qemu reports it
    std::optional<uint64_t> host_offset;
    std::optional<uint64_t> cluster;
    std::optional<uint64_t> l1_index;
    std::optional<uint64_t> l2_index;
    std::optional<uint64_t> guest_offset;
    std::optional<std::string> snapshot; // id of the snapshot whose tables hold it
    std::optional<std::string> bitmap;
    std::optional<uint64_t> refcount;    // on disk
    std::optional<uint64_t> references;  // counted
    std::string owner;                   // what references the cluster, when known
};

} // namespace imgmend::check
