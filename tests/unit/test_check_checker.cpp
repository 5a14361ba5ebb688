// The check as a whole (lib/check/checker.cpp): clean images and their
// counters, references past the end of the file, refcount overflow,
// clusters used twice (CheckState::conflicts), refcount table damage
// (CheckState::rebuild_needed), and the snapshot table and bitmap
// directory as the checker reads them.
#include "fixtures/check_fixture.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/l2_entry.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace imgmend;
using check::FindingKind;
using check::Repair;
using check::Severity;
using test::analyse;
using test::BaseImage;
using test::kinds;
using test::only;
using test::set_u64;
using test::get_u64;

namespace {

constexpr uint64_t cs = BaseImage::cs;
constexpr uint64_t copied = qcow2::oflag_copied;


} // namespace

TEST_CASE("a clean image of every refcount width has no findings and the expected counters")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        test::BuilderOptions o;
        o.refcount_order = order;
        BaseImage base(o);
        auto bytes = base.b.bytes();
        REQUIRE(bytes.size() == 7 * cs);
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "");
        CHECK(r.corruptions == 0);
        CHECK(r.leaks == 0);
        CHECK(r.check_errors == 0);
        CHECK(r.total_clusters == 64);
        CHECK(r.allocated_clusters == 2);
        // guest cluster 16 (host 6) does not follow guest cluster 0 (host 4)
        CHECK(r.fragmented_clusters == 1);
        CHECK(r.compressed_clusters == 0);
        CHECK(r.image_end_offset == 7 * cs);
        CHECK(state.counts.size() == 7);
        CHECK(state.counts.max_value() == (order == 6 ? ~uint64_t{0} : (uint64_t{1} << (1u << order)) - 1));
        for (uint64_t k = 0; k < 7; ++k) {
            CAPTURE(k);
            CHECK(state.counts.get(k) == 1);
        }
        CHECK(state.on_disk_mismatches.empty());
        CHECK(state.unreadable.empty());
        CHECK(state.conflicts.empty());
        CHECK_FALSE(state.rebuild_needed);
        CHECK(state.reftable.size() >= 1);
        CHECK(state.reftable[0] == base.b.refblock_offset());
        REQUIRE(state.snapshots);
        CHECK(state.snapshots->entries.empty());
    }
}

TEST_CASE("allocated and fragmented clusters follow the active L2 entries")
{
    test::Qcow2Builder b;
    b.write_cluster(0, 1);  // host 4, then the L2 table at 5
    b.write_cluster(1, 2);  // host 6: not after 4, fragmented
    b.write_cluster(2, 3);  // host 7: after 6
    b.write_cluster(40, 4); // host 8
    b.write_cluster(3, 5);  // host 9
    // In guest order: 4, 6 (fragmented), 7, 9 (fragmented), 8 (fragmented).
    auto r = analyse(b.bytes()).report;
    CHECK(kinds(r) == "");
    CHECK(r.allocated_clusters == 5);
    CHECK(r.fragmented_clusters == 3);
    CHECK(r.image_end_offset == 10 * cs);

    SUBCASE("a 1 GiB image: the total covers the virtual size")
    {
        test::BuilderOptions o;
        o.size = 1ull << 30;
        test::Qcow2Builder big(o);
        big.write_cluster(0, 1);
        big.write_cluster(8192, 2); // the second L2 table
        auto rb = analyse(big.bytes()).report;
        CHECK(kinds(rb) == "");
        CHECK(rb.total_clusters == 16384);
        CHECK(rb.allocated_clusters == 2);
        // each L2 table starts its own run
        CHECK(rb.fragmented_clusters == 0);
    }
}

TEST_CASE("beyond-end-of-file: an L2 entry far past the end of the file, and exactly at its end")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    uint64_t target = 0;
    SUBCASE("far") { target = 0x1000000; }
    SUBCASE("at the file size") { target = bytes.size(); }
    CAPTURE(target);
    set_u64(bytes, base.entry(16), target | copied);
    auto state = analyse(bytes);
    const auto& r = state.report;
    CHECK(kinds(r) == "beyond-end-of-file oflag-copied-l2 refcount-too-high");
    auto f = only(r, FindingKind::beyond_end_of_file);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::none);
    CHECK(f.host_offset == target);
    CHECK(f.l1_index == 0u);
    CHECK(f.l2_index == 16u);
    CHECK(f.guest_offset == 16 * cs);
    CHECK_FALSE(f.snapshot);
    CHECK(f.owner == "data cluster for guest offset 0x100000 (L1 index 0, L2 index 16)");
    // The old data cluster lost its only reference.
    auto leak = only(r, FindingKind::refcount_too_high);
    CHECK(leak.cluster == base.data16 / cs);
    CHECK(leak.refcount == 1u);
    CHECK(leak.references == 0u);
    // COPIED is set but the refcount past the end is 0.
    auto c = only(r, FindingKind::copied_l2_mismatch);
    CHECK(c.refcount == 0u);
    CHECK(c.cluster == target / cs);
    CHECK(r.corruptions == 2);
    CHECK(r.leaks == 1);
    CHECK(r.image_end_offset == 7 * cs); // the leaked cluster still has refcount 1
}

TEST_CASE("beyond-end-of-file: an L1 entry past the end of the file leaks its L2 table and data")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    set_u64(bytes, base.b.l1_offset(), 0x1000000 | copied);
    auto r = analyse(bytes).report;
    CHECK(kinds(r) == "beyond-end-of-file oflag-copied-l1 refcount-too-high");
    auto f = only(r, FindingKind::beyond_end_of_file);
    CHECK(f.host_offset == 0x1000000u);
    CHECK(f.l1_index == 0u);
    CHECK_FALSE(f.l2_index);
    CHECK(f.owner == "L2 table for L1 index 0");
    CHECK(test::clusters_of(r, FindingKind::refcount_too_high) ==
          std::vector<uint64_t>{base.data0 / cs, base.l2 / cs, base.data16 / cs});
    auto c = only(r, FindingKind::copied_l1_mismatch);
    CHECK(c.l1_index == 0u);
    CHECK(c.host_offset == base.b.l1_offset());
    CHECK(c.refcount == 0u);
    CHECK(r.leaks == 3);
    CHECK(r.corruptions == 2);
}

TEST_CASE("refcount-overflow: a second reference to a cluster at a 1-bit width")
{
    test::BuilderOptions o;
    o.refcount_order = 0;
    BaseImage base(o);

    SUBCASE("two L2 entries on one cluster")
    {
        auto bytes = base.b.bytes();
        set_u64(bytes, base.entry(1), get_u64(bytes, base.entry(0)));
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "refcount-overflow");
        auto f = only(r, FindingKind::refcount_overflow);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(f.cluster == base.data0 / cs);
        CHECK(f.host_offset == base.data0);
        // the reference that overflows is the second, guest cluster 1
        CHECK(f.l1_index == 0u);
        CHECK(f.l2_index == 1u);
        CHECK(f.guest_offset == cs);
        CHECK(f.message == "ERROR: overflow cluster offset=0x40000"); // qemu-img check's words
        CHECK(r.corruptions == 1);
        CHECK(r.allocated_clusters == 3);
        CHECK(r.fragmented_clusters == 2);
        CHECK(state.counts.get(base.data0 / cs) == state.counts.max_value());
        CHECK(state.counts.max_value() == 1);
        CHECK(state.conflicts == std::vector<uint64_t>{base.data0 / cs});
    }
    SUBCASE("a snapshot sharing every table (refcounts left at 1)")
    {
        base.b.take_snapshot("1", "s1", test::SnapshotRefcounts::unchanged);
        auto state = analyse(base.b.bytes());
        const auto& r = state.report;
        CHECK(kinds(r) == "refcount-overflow");
        CHECK(test::clusters_of(r, FindingKind::refcount_overflow) ==
              std::vector<uint64_t>{base.data0 / cs, base.l2 / cs, base.data16 / cs});
        for (const auto& f : test::findings_of(r, FindingKind::refcount_overflow)) {
            CAPTURE(*f.cluster);
            CHECK(f.snapshot == "1"); // the snapshot's walk is the second
            CHECK(f.l1_index == 0u);
        }
        CHECK(test::about(r, FindingKind::refcount_overflow, base.data16 / cs).l2_index == 16u);
        CHECK(r.corruptions == 3);
        // sharing with a snapshot is legal: no conflict
        CHECK(state.conflicts.empty());
    }
}

TEST_CASE("conflicts: clusters whose users contradict each other")
{
    BaseImage base;
    auto bytes = base.b.bytes();

    // Guest cluster 1 (L2 index 1) made to point at `target`; the
    // refcount finding names that entry, the intruder.
    auto intruder = [&](uint64_t target) {
        set_u64(bytes, base.entry(1), target | copied);
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "refcount-too-low");
        auto f = test::about(r, FindingKind::refcount_too_low, target / cs);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none); // repair leaves contradicting users alone
        CHECK(f.host_offset == target);
        CHECK(f.refcount == 1u);
        CHECK(f.references == 2u);
        CHECK(f.l1_index == 0u);
        CHECK(f.l2_index == 1u);
        CHECK(f.guest_offset == cs);
        CHECK(r.corruptions == 1);
        CHECK(state.counts.get(target / cs) == 2);
        CHECK(state.on_disk_mismatches.size() == 1);
        CHECK(state.on_disk_mismatches.find(target / cs).value_or(~uint64_t{0}) == 1);
        return state.conflicts;
    };
    SUBCASE("data pointing at the L1 table")
    {
        CHECK(intruder(base.b.l1_offset()) == std::vector<uint64_t>{base.b.l1_offset() / cs});
    }
    SUBCASE("data pointing at its own L2 table")
    {
        CHECK(intruder(base.l2) == std::vector<uint64_t>{base.l2 / cs});
    }
    SUBCASE("data pointing at the refcount table")
    {
        CHECK(intruder(base.b.reftable_offset()) == std::vector<uint64_t>{base.b.reftable_offset() / cs});
    }
    SUBCASE("two L2 entries on one data cluster, no snapshots")
    {
        CHECK(intruder(base.data0) == std::vector<uint64_t>{base.data0 / cs});
    }
    SUBCASE("three L2 entries on one data cluster")
    {
        set_u64(bytes, base.entry(2), base.data0 | copied);
        set_u64(bytes, base.entry(1), base.data0 | copied);
        auto state = analyse(bytes);
        auto f = only(state.report, FindingKind::refcount_too_low);
        CHECK(f.cluster == base.data0 / cs);
        CHECK(f.references == 3u);
        CHECK(state.conflicts == std::vector<uint64_t>{base.data0 / cs});
    }
    SUBCASE("an L2 entry pointing at the header: offset 0 is unallocated")
    {
        set_u64(bytes, base.entry(1), copied);
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "");
        CHECK(state.conflicts.empty());
        CHECK(state.counts.get(0) == 1);
    }
}

TEST_CASE("conflicts: two L1 entries sharing one L2 table without snapshots")
{
    test::BuilderOptions o;
    o.size = 1ull << 30; // two L1 entries
    BaseImage base(o);
    auto bytes = base.b.bytes();
    set_u64(bytes, base.b.l1_offset() + 8, get_u64(bytes, base.b.l1_offset()));
    auto state = analyse(bytes);
    const auto& r = state.report;
    CHECK(kinds(r) == "refcount-too-low");
    // the table, and every data cluster it names, is used twice
    CHECK(state.conflicts == std::vector<uint64_t>{base.data0 / cs, base.l2 / cs, base.data16 / cs});
    auto f = test::about(r, FindingKind::refcount_too_low, base.l2 / cs);
    CHECK(f.refcount == 1u);
    CHECK(f.references == 2u);
    CHECK(test::about(r, FindingKind::refcount_too_low, base.data16 / cs).references == 2u);
    CHECK(r.corruptions == 3);
    // each L1 entry's table is walked, and starts its own run
    CHECK(r.allocated_clusters == 4);
    CHECK(r.fragmented_clusters == 2);
}

TEST_CASE("conflicts: sharing with a snapshot is legal")
{
    BaseImage base;
    uint64_t snap_l1 = base.b.take_snapshot("1", "s1");
    REQUIRE(base.b.refcount(base.l2 / cs) == 2);

    SUBCASE("the snapshot shares the L2 table and data clusters")
    {
        auto state = analyse(base.b.bytes());
        CHECK(kinds(state.report) == "");
        CHECK(state.conflicts.empty());
        CHECK(state.counts.get(base.l2 / cs) == 2);
        CHECK(state.counts.get(base.data0 / cs) == 2);
        CHECK(state.counts.get(base.data16 / cs) == 2);
        CHECK(state.counts.get(snap_l1 / cs) == 1);
        CHECK(state.counts.get(base.b.snapshots_offset() / cs) == 1);
        CHECK(state.report.allocated_clusters == 2); // active tables only
        CHECK(state.report.image_end_offset == base.b.snapshots_offset() + cs);
        REQUIRE(state.snapshots);
        REQUIRE(state.snapshots->entries.size() == 1);
        CHECK(state.snapshots->entries[0].id == "1");
        CHECK(state.snapshots->entries[0].l1_table_offset == snap_l1);
    }
    SUBCASE("a second L2 entry on a shared data cluster is miscounted, not a conflict")
    {
        auto bytes = base.b.bytes();
        set_u64(bytes, base.entry(1), get_u64(bytes, base.entry(0)));
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "refcount-too-low");
        auto f = only(state.report, FindingKind::refcount_too_low);
        CHECK(f.cluster == base.data0 / cs);
        CHECK(f.refcount == 2u);
        CHECK(f.references == 4u); // both entries, walked for the active L1 and the snapshot's
        CHECK(f.message == "ERROR cluster 4 refcount=2 reference=4");
        CHECK(state.conflicts.empty());
    }
    SUBCASE("data pointing at an L2 table is a conflict even with snapshots")
    {
        auto bytes = base.b.bytes();
        set_u64(bytes, base.entry(1), base.l2);
        auto state = analyse(bytes);
        CHECK(state.conflicts == std::vector<uint64_t>{base.l2 / cs});
        auto f = only(state.report, FindingKind::refcount_too_low);
        CHECK(f.cluster == base.l2 / cs);
        CHECK(f.references == 4u);
    }
}

TEST_CASE("refcount table damage: rebuild_needed")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    const uint64_t rt = base.b.reftable_offset();
    const uint64_t refblock = base.b.refblock_offset();

    SUBCASE("entry 0 zero: every refcount reads 0")
    {
        set_u64(bytes, rt, 0);
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "oflag-copied-l1 oflag-copied-l2 refcount-too-low");
        // every used cluster but the refcount block, now referenced by nothing
        CHECK(test::clusters_of(r, FindingKind::refcount_too_low) == std::vector<uint64_t>{0, 1, 3, 4, 5, 6});
        auto header = test::about(r, FindingKind::refcount_too_low, 0);
        CHECK(header.refcount == 0u);
        CHECK(header.references == 1u);
        CHECK(header.owner == "image header");
        auto data = test::about(r, FindingKind::refcount_too_low, base.data16 / cs);
        CHECK(data.l2_index == 16u);
        CHECK(data.guest_offset == 16 * cs);
        CHECK(test::findings_of(r, FindingKind::copied_l2_mismatch).size() == 2);
        CHECK(r.corruptions == 9);
        CHECK(state.counts.get(refblock / cs) == 0);
        CHECK(state.rebuild_needed);
        CHECK(state.reftable[0] == 0);
    }
    SUBCASE("entry 0 unaligned: no refcount can be read")
    {
        set_u64(bytes, rt, refblock | 0x200);
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "refblock-unaligned refcount-unreadable");
        auto f = only(r, FindingKind::refblock_unaligned);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::all);
        CHECK(f.host_offset == rt);
        auto unreadable = test::findings_of(r, FindingKind::refcount_unreadable);
        CHECK(unreadable.size() == 7);
        auto last = test::about(r, FindingKind::refcount_unreadable, 6);
        CHECK(last.severity == Severity::check_error);
        CHECK(last.repair == Repair::all);
        CHECK(last.host_offset == 6 * cs);
        CHECK(r.check_errors == 7);
        CHECK(r.corruptions == 1);
        CHECK(state.unreadable == std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6});
        CHECK(state.rebuild_needed);
    }
    SUBCASE("entry 0 with a reserved bit")
    {
        set_u64(bytes, rt, refblock | 1);
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "refblock-reserved-bits refcount-too-high");
        auto f = only(r, FindingKind::refblock_reserved_bits);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::all);
        CHECK(f.host_offset == rt);
        // the block is not counted as in use, so its own refcount leaks
        auto leak = only(r, FindingKind::refcount_too_high);
        CHECK(leak.cluster == refblock / cs);
        CHECK(leak.refcount == 1u);
        CHECK(leak.references == 0u);
        CHECK(state.rebuild_needed);
    }
    SUBCASE("entry 0 beyond the end of the file")
    {
        set_u64(bytes, rt, 0x1000000);
        auto state = analyse(bytes);
        const auto& r = state.report;
        auto f = only(r, FindingKind::refblock_outside_image);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::all);
        CHECK(f.host_offset == rt);
        CHECK(test::clusters_of(r, FindingKind::refcount_too_low) == std::vector<uint64_t>{0, 1, 3, 4, 5, 6});
        CHECK(state.rebuild_needed);
    }
    SUBCASE("an unused entry beyond the end of the file")
    {
        set_u64(bytes, rt + 8, 0x1000000);
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "refblock-outside-image");
        CHECK(only(state.report, FindingKind::refblock_outside_image).host_offset == rt + 8);
        CHECK(state.report.corruptions == 1);
        CHECK(state.rebuild_needed);
    }
    SUBCASE("a used cluster with refcount 0")
    {
        base.b.set_refcount(base.data0 / cs, 0);
        auto state = analyse(base.b.bytes());
        CHECK(kinds(state.report) == "oflag-copied-l2 refcount-too-low");
        CHECK(state.on_disk_mismatches.find(base.data0 / cs).value_or(~uint64_t{0}) == 0);
        CHECK(state.rebuild_needed); // its refcount block might not exist
    }
    SUBCASE("a refcount too high alone needs no rebuild")
    {
        base.b.allocate_cluster();
        auto state = analyse(base.b.bytes());
        CHECK(kinds(state.report) == "refcount-too-high");
        CHECK_FALSE(state.rebuild_needed);
    }
}

TEST_CASE("refblock-refcount: a refcount table entry pointing at a data cluster")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    set_u64(bytes, base.b.reftable_offset() + 8, base.data0);
    auto state = analyse(bytes);
    const auto& r = state.report;
    // (the data, read as refcount block 1, gives clusters past the end of
    // the file non-zero refcounts: a warning)
    CHECK(kinds(r) == "refblock-refcount refcount-beyond-end refcount-too-low");
    auto f = only(r, FindingKind::refblock_refcount);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::all);
    CHECK(f.cluster == base.data0 / cs);
    CHECK(f.host_offset == base.data0);
    CHECK(f.message == "ERROR refcount block 1 refcount=2");
    auto low = only(r, FindingKind::refcount_too_low);
    CHECK(low.cluster == base.data0 / cs);
    CHECK(low.refcount == 1u);
    CHECK(low.references == 2u);
    CHECK(state.conflicts == std::vector<uint64_t>{base.data0 / cs});
    CHECK(state.rebuild_needed);
    CHECK(r.corruptions == 2);
    CHECK(r.warnings() == 1);
}

TEST_CASE("snapshot-table-damaged")
{
    BaseImage base;
    uint64_t snap_l1 = base.b.take_snapshot("1", "s1");
    auto bytes = base.b.bytes();
    const uint64_t entry = base.b.snapshot_entry_offset(0);

    SUBCASE("a version 3 entry without the 16 bytes of extra data")
    {
        util::store_be32(bytes, entry + 36, 0);
        bytes[entry + 40] = '1'; // the id now starts here
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "snapshot-table-damaged");
        auto f = only(r, FindingKind::snapshot_table_damaged);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::all);
        CHECK(f.host_offset == entry);
        CHECK(f.snapshot == "1");
        CHECK(f.message == "ERROR snapshot table entry 0 is incomplete");
        CHECK(r.corruptions == 1);
    }
    SUBCASE("too much extra data: the table cannot be read, its clusters leak")
    {
        util::store_be32(bytes, entry + 36, 2000);
        auto state = analyse(bytes);
        const auto& r = state.report;
        CHECK(kinds(r) == "refcount-too-high snapshot-table-damaged");
        auto f = only(r, FindingKind::snapshot_table_damaged);
        CHECK(f.repair == Repair::all);
        CHECK(f.host_offset == entry);
        CHECK(test::clusters_of(r, FindingKind::refcount_too_high) ==
              std::vector<uint64_t>{base.data0 / cs, base.l2 / cs, base.data16 / cs, snap_l1 / cs,
                                    base.b.snapshots_offset() / cs});
        CHECK(r.leaks == 5);
        CHECK(r.corruptions == 1);
        CHECK_FALSE(state.snapshots);
    }
    SUBCASE("the table beyond the end of the file")
    {
        util::store_be64(bytes, 64, 0x1000000);
        auto state = analyse(bytes);
        auto f = only(state.report, FindingKind::snapshot_table_damaged);
        CHECK(f.host_offset == 0x1000000u);
        CHECK(f.severity == Severity::corruption);
    }
}

TEST_CASE("bitmaps: a clean image, and a damaged directory")
{
    BaseImage base;
    auto placed = base.b.add_bitmaps({{"b0"}, {"b1", qcow2::bitmap_flag_auto, 16, false}});
    REQUIRE(placed.size() == 2);
    auto bytes = base.b.bytes();

    SUBCASE("clean")
    {
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "");
        CHECK(state.counts.get(placed[0].table_offset / cs) == 1);
        CHECK(state.counts.get(placed[0].data_offset / cs) == 1);
        CHECK(state.counts.get(placed[1].table_offset / cs) == 1);
        CHECK(state.counts.get(placed[1].entry_offset / cs) == 1); // the directory
    }
    SUBCASE("an entry of unknown type")
    {
        bytes[placed[1].entry_offset + 16] = 2;
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "bitmap-directory-damaged");
        auto f = only(r, FindingKind::bitmap_directory_damaged);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(f.bitmap == "b1");
        CHECK(f.host_offset == placed[1].entry_offset);
        CHECK(r.corruptions == 1);
    }
    SUBCASE("granularity outside 9..31")
    {
        bytes[placed[0].entry_offset + 17] = 8;
        auto f = only(analyse(bytes).report, FindingKind::bitmap_directory_damaged);
        CHECK(f.bitmap == "b0");
    }
    SUBCASE("a name that runs past the directory: nothing behind it is counted")
    {
        util::store_be16(bytes, placed[0].entry_offset + 18, 2000);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "bitmap-directory-damaged refcount-too-high");
        auto f = only(r, FindingKind::bitmap_directory_damaged);
        CHECK(f.host_offset == placed[0].entry_offset); // the directory starts with entry 0
        CHECK_FALSE(f.bitmap);
        CHECK(test::clusters_of(r, FindingKind::refcount_too_high) ==
              std::vector<uint64_t>{placed[0].table_offset / cs, placed[0].data_offset / cs,
                                    placed[1].table_offset / cs});
    }
    SUBCASE("the bitmaps autoclear bit cleared: the extension is ignored")
    {
        util::store_be64(bytes, 88, 0);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "refcount-too-high");
        CHECK(r.leaks == 4); // both tables, the data cluster, the directory
    }
}

TEST_CASE("bitmap-table-damaged")
{
    BaseImage base;
    auto placed = base.b.add_bitmaps({{"b0"}});
    auto bytes = base.b.bytes();
    SUBCASE("an unaligned bitmap table entry")
    {
        set_u64(bytes, placed[0].table_offset, placed[0].data_offset + 0x200);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "bitmap-table-damaged refcount-too-high");
        auto f = only(r, FindingKind::bitmap_table_damaged);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(f.bitmap == "b0");
        CHECK(f.host_offset == placed[0].table_offset);
        CHECK(only(r, FindingKind::refcount_too_high).cluster == placed[0].data_offset / cs);
    }
    SUBCASE("an entry with reserved bits")
    {
        uint64_t bits = 0;
        SUBCASE("bit 1") { bits = 0x2; }
        SUBCASE("bit 60") { bits = 1ull << 60; }
        CAPTURE(bits);
        set_u64(bytes, placed[0].table_offset, placed[0].data_offset | bits);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "bitmap-table-damaged refcount-too-high");
        CHECK(only(r, FindingKind::bitmap_table_damaged).host_offset == placed[0].table_offset);
    }
    SUBCASE("an all-ones entry with no cluster is fine")
    {
        set_u64(bytes, placed[0].table_offset, 1);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "refcount-too-high"); // only the data cluster it dropped
        CHECK(only(r, FindingKind::refcount_too_high).cluster == placed[0].data_offset / cs);
    }
    SUBCASE("a table beyond the end of the file cannot be read")
    {
        set_u64(bytes, placed[0].entry_offset, 0x1000000);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "beyond-end-of-file bitmap-table-damaged refcount-too-high");
        auto f = only(r, FindingKind::bitmap_table_damaged);
        CHECK(f.bitmap == "b0");
        CHECK(f.host_offset == 0x1000000u);
        CHECK(only(r, FindingKind::beyond_end_of_file).owner == "bitmap table of 'b0'");
        // neither the old table nor the data behind it is referenced now
        CHECK(test::clusters_of(r, FindingKind::refcount_too_high) ==
              std::vector<uint64_t>{placed[0].table_offset / cs, placed[0].data_offset / cs});
    }
}

TEST_CASE("bitmap-in-use is a warning")
{
    BaseImage base;
    auto placed = base.b.add_bitmaps({{"b0"}});
    auto bytes = base.b.bytes();
    util::store_be32(bytes, placed[0].entry_offset + 12, qcow2::bitmap_flag_auto | qcow2::bitmap_flag_in_use);
    auto r = analyse(bytes).report;
    CHECK(kinds(r) == "bitmap-in-use");
    auto f = only(r, FindingKind::bitmap_in_use);
    CHECK(f.severity == Severity::warning);
    CHECK(f.repair == Repair::none);
    CHECK(f.bitmap == "b0");
    CHECK(f.host_offset == placed[0].entry_offset);
    CHECK(r.corruptions + r.leaks + r.check_errors == 0);
    CHECK(r.warnings() == 1);
}

TEST_CASE("references past the end of the file: runs merge, scattered ones stay bounded and all covered")
{
    test::BuilderOptions o;
    o.cluster_bits = 12;
    o.size = 320ull << 20;
    test::Qcow2Builder b(o);
    const uint64_t c4k = 4096, far = 1ull << 30;
    SUBCASE("a run (a truncated file): one range")
    {
        for (uint64_t g = 0; g < 1000; ++g)
            b.set_l2_entry(g, far + g * c4k);
        auto state = analyse(b.bytes());
        CHECK(state.report.count(FindingKind::beyond_end_of_file) == 1000);
        REQUIRE(state.references_beyond_end.size() == 1);
        CHECK(state.references_beyond_end[0] == std::pair<uint64_t, uint64_t>{far / c4k, far / c4k + 999});
    }
    SUBCASE("70,000 scattered: at most 65,536 ranges, every pointed cluster inside one")
    {
        const uint64_t n = 70000;
        for (uint64_t g = 0; g < n; ++g)
            b.set_l2_entry(g, far + 2 * g * c4k); // a gap between each
        auto state = analyse(b.bytes());
        CHECK(state.report.count(FindingKind::beyond_end_of_file) == n);
        const auto& ranges = state.references_beyond_end;
        CHECK(ranges.size() <= 65536);
        auto sorted = ranges;
        std::sort(sorted.begin(), sorted.end());
        for (uint64_t g = 0; g < n; g += 997) {
            uint64_t c = (far + 2 * g * c4k) / c4k;
            auto it = std::upper_bound(sorted.begin(), sorted.end(), std::pair<uint64_t, uint64_t>{c, ~uint64_t{0}});
            REQUIRE(it != sorted.begin());
            CHECK(std::prev(it)->second >= c);
        }
    }
}
