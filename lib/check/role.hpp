// What a reference to a host cluster is: the header, a table, or guest data
// (with its location), so findings can say who uses a cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace imgmend::check {

enum class RoleKind {
    header,
    l1_table,
    l2_table,
    data,
    compressed_data,
    refcount_table,
    refcount_block,
    snapshot_table,
    encryption_header,
    bitmap_directory,
    bitmap_table,
    bitmap_data,
};

struct Role {
    RoleKind kind = RoleKind::header;
    std::optional<uint64_t> l1_index;
    std::optional<uint64_t> l2_index;
    std::optional<uint64_t> guest_offset;
    std::optional<uint64_t> table_index; // refcount table index of a block
    std::optional<std::string> snapshot; // snapshot id; absent = active tables
    std::optional<std::string> bitmap;

    std::string describe() const;
    bool is_metadata() const { return kind != RoleKind::data && kind != RoleKind::compressed_data; }
};

} // namespace imgmend::check
