// What a reference to a host cluster is (lib/check/role.cpp): the owner
// text findings carry, and which roles are metadata.
#include "check/role.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

using namespace imgmend;
using check::Role;
using check::RoleKind;

namespace {

const std::vector<RoleKind> every_kind = {
    RoleKind::header,          RoleKind::l1_table,       RoleKind::l2_table,
    RoleKind::data,            RoleKind::compressed_data, RoleKind::refcount_table,
    RoleKind::refcount_block,  RoleKind::snapshot_table, RoleKind::encryption_header,
    RoleKind::bitmap_directory, RoleKind::bitmap_table,   RoleKind::bitmap_data,
};

Role role(RoleKind kind)
{
    Role r;
    r.kind = kind;
    return r;
}

// A role with every location field filled in.
Role located(RoleKind kind)
{
    Role r = role(kind);
    r.l1_index = 3;
    r.l2_index = 17;
    r.guest_offset = 0x6110000;
    r.table_index = 5;
    r.bitmap = "bm0";
    return r;
}

} // namespace

TEST_CASE("a default Role is the header, active, and metadata")
{
    Role r;
    CHECK(r.kind == RoleKind::header);
    CHECK_FALSE(r.snapshot);
    CHECK(r.describe() == "image header");
    CHECK(r.is_metadata());
}

TEST_CASE("only guest data is not metadata")
{
    for (RoleKind kind : every_kind) {
        CAPTURE(static_cast<int>(kind));
        bool guest_data = kind == RoleKind::data || kind == RoleKind::compressed_data;
        CHECK(role(kind).is_metadata() == !guest_data);
    }
}

TEST_CASE("every role describes itself, each differently")
{
    std::set<std::string> seen;
    for (RoleKind kind : every_kind) {
        CAPTURE(static_cast<int>(kind));
        std::string text = located(kind).describe();
        CHECK_FALSE(text.empty());
        CHECK(text != "unknown");
        CHECK(text.find('\n') == std::string::npos); // findings are one line
        seen.insert(text);
    }
    CHECK(seen.size() == every_kind.size());
}

TEST_CASE("descriptions name the location")
{
    struct Row {
        RoleKind kind;
        const char* active;
        const char* in_snapshot;
    };
    const Row rows[] = {
        {RoleKind::header, "image header", "image header"},
        {RoleKind::l1_table, "L1 table (active)", "L1 table of snapshot snap-1"},
        {RoleKind::l2_table, "L2 table for L1 index 3", "L2 table for L1 index 3 of snapshot snap-1"},
        {RoleKind::data, "data cluster for guest offset 0x6110000 (L1 index 3, L2 index 17)",
         "data cluster for guest offset 0x6110000 (L1 index 3, L2 index 17) of snapshot snap-1"},
        {RoleKind::compressed_data, "compressed data for guest offset 0x6110000 (L1 index 3, L2 index 17)",
         "compressed data for guest offset 0x6110000 (L1 index 3, L2 index 17) of snapshot snap-1"},
        {RoleKind::refcount_table, "refcount table", "refcount table"},
        {RoleKind::refcount_block, "refcount block 5", "refcount block 5"},
        {RoleKind::snapshot_table, "snapshot table", "snapshot table"},
        {RoleKind::encryption_header, "encryption header", "encryption header"},
        {RoleKind::bitmap_directory, "bitmap directory", "bitmap directory"},
        {RoleKind::bitmap_table, "bitmap table of 'bm0'", "bitmap table of 'bm0'"},
        {RoleKind::bitmap_data, "bitmap data of 'bm0'", "bitmap data of 'bm0'"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.active);
        Role r = located(row.kind);
        CHECK(r.describe() == row.active);
        r.snapshot = "snap-1";
        CHECK(r.describe() == row.in_snapshot);
    }
}

TEST_CASE("missing locations read as zero or empty, not as garbage")
{
    CHECK(role(RoleKind::l2_table).describe() == "L2 table for L1 index 0");
    CHECK(role(RoleKind::data).describe() == "data cluster for guest offset 0x0 (L1 index 0, L2 index 0)");
    CHECK(role(RoleKind::compressed_data).describe() ==
          "compressed data for guest offset 0x0 (L1 index 0, L2 index 0)");
    CHECK(role(RoleKind::refcount_block).describe() == "refcount block 0");
    CHECK(role(RoleKind::bitmap_table).describe() == "bitmap table of ''");
    CHECK(role(RoleKind::bitmap_data).describe() == "bitmap data of ''");
}

TEST_CASE("large values are printed in full")
{
    Role r = role(RoleKind::data);
    r.guest_offset = 0x3fffffffffff0000;
    r.l1_index = 4294967295u;
    r.l2_index = 8191;
    r.snapshot = ""; // an empty snapshot id is still a snapshot
    CHECK(r.describe() ==
          "data cluster for guest offset 0x3fffffffffff0000 (L1 index 4294967295, L2 index 8191) of snapshot ");
    Role block = role(RoleKind::refcount_block);
    block.table_index = ~uint64_t{0};
    CHECK(block.describe() == "refcount block 18446744073709551615");
}

TEST_CASE("an out-of-range kind is described as unknown")
{
    Role r = role(static_cast<RoleKind>(99));
    CHECK(r.describe() == "unknown");
    CHECK(r.is_metadata());
}
