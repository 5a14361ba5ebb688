#include "check/finding.hpp"

namespace imgmend::check {

std::string_view to_string(FindingKind kind)
{
    switch (kind) {
    case FindingKind::refcount_too_low: return "refcount-too-low";
    case FindingKind::refcount_too_high: return "refcount-too-high";
    case FindingKind::refcount_overflow: return "refcount-overflow";
    case FindingKind::beyond_end_of_file: return "beyond-end-of-file";
    case FindingKind::unaligned_l2_table: return "unaligned-l2-table";
    case FindingKind::unaligned_data_cluster: return "unaligned-data-cluster";
    case FindingKind::unaligned_prealloc_zero: return "unaligned-preallocated-zero";
    case FindingKind::l1_reserved_bits: return "l1-reserved-bits";
    case FindingKind::l2_reserved_bits: return "l2-reserved-bits";
    case FindingKind::compressed_copied: return "compressed-copied";
    case FindingKind::compressed_with_bitmap: return "compressed-with-bitmap";
    case FindingKind::compressed_with_data_file: return "compressed-with-data-file";
    case FindingKind::subcluster_alloc_and_zero: return "subcluster-allocated-and-zero";
    case FindingKind::unallocated_with_bitmap: return "unallocated-with-bitmap";
    case FindingKind::copied_l1_mismatch: return "oflag-copied-l1";
    case FindingKind::copied_l2_mismatch: return "oflag-copied-l2";
    case FindingKind::refblock_reserved_bits: return "refblock-reserved-bits";
    case FindingKind::refblock_unaligned: return "refblock-unaligned";
    case FindingKind::refblock_outside_image: return "refblock-outside-image";
    case FindingKind::refblock_refcount: return "refblock-refcount";
    case FindingKind::refcount_unreadable: return "refcount-unreadable";
    case FindingKind::snapshot_l1_unaligned: return "snapshot-l1-unaligned";
    case FindingKind::snapshot_l1_too_large: return "snapshot-l1-too-large";
    case FindingKind::snapshot_table_damaged: return "snapshot-table-damaged";
    case FindingKind::snapshots_with_data_file: return "snapshots-with-data-file";
    case FindingKind::bitmap_directory_damaged: return "bitmap-directory-damaged";
    case FindingKind::bitmap_table_damaged: return "bitmap-table-damaged";
    case FindingKind::bitmap_in_use: return "bitmap-in-use";
    case FindingKind::table_unreadable: return "table-unreadable";
    case FindingKind::dirty_bit: return "dirty-bit";
    case FindingKind::corrupt_bit: return "corrupt-bit";
    case FindingKind::unknown_autoclear_bits: return "unknown-autoclear-bits";
    case FindingKind::refcount_beyond_end: return "refcount-beyond-end";
    case FindingKind::compressed_undecodable: return "compressed-undecodable";
    }
    return "unknown";
}

std::string_view to_string(Severity severity)
{
    switch (severity) {
    case Severity::corruption: return "corruption";
    case Severity::leak: return "leak";
    case Severity::warning: return "warning";
    case Severity::check_error: return "check-error";
    }
    return "unknown";
}

std::string_view to_string(Repair repair)
{
    switch (repair) {
    case Repair::none: return "none";
    case Repair::leaks: return "-r leaks";
    case Repair::all: return "-r all";
    }
    return "none";
}

} // namespace imgmend::check
