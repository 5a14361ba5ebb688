#include "check/role.hpp"

#include <fmt/format.h>

namespace imgmend::check {

std::string Role::describe() const
{
    std::string where = snapshot ? fmt::format(" of snapshot {}", *snapshot) : std::string();
    switch (kind) {
    case RoleKind::header: return "image header";
    case RoleKind::l1_table: return "L1 table" + (snapshot ? where : std::string(" (active)"));
    case RoleKind::l2_table: return fmt::format("L2 table for L1 index {}{}", l1_index.value_or(0), where);
    case RoleKind::data:
        return fmt::format("data cluster for guest offset {:#x} (L1 index {}, L2 index {}){}", guest_offset.value_or(0),
                           l1_index.value_or(0), l2_index.value_or(0), where);
    case RoleKind::compressed_data:
        return fmt::format("compressed data for guest offset {:#x} (L1 index {}, L2 index {}){}",
                           guest_offset.value_or(0), l1_index.value_or(0), l2_index.value_or(0), where);
    case RoleKind::refcount_table: return "refcount table";
    case RoleKind::refcount_block: return fmt::format("refcount block {}", table_index.value_or(0));
    case RoleKind::snapshot_table: return "snapshot table";
    case RoleKind::encryption_header: return "encryption header";
    case RoleKind::bitmap_directory: return "bitmap directory";
    case RoleKind::bitmap_table: return fmt::format("bitmap table of '{}'", bitmap.value_or(""));
    case RoleKind::bitmap_data: return fmt::format("bitmap data of '{}'", bitmap.value_or(""));
    }
    return "unknown";
}

} // namespace imgmend::check
