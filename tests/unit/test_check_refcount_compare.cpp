// The comparison passes (lib/check/refcount_compare.cpp): counted
// references against on-disk refcounts at every width, who the findings
// name, the end offset, and OFLAG_COPIED against the refcounts. Tested
// through check::analyse_qcow2.
#include "fixtures/check_fixture.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/extensions.hpp"
#include "qcow2/l2_entry.hpp"
#include "refcount/refcount_block.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

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

TEST_CASE("refcount-too-low: refcount 0 on a used cluster")
{
    BaseImage base;
    SUBCASE("the L2 table")
    {
        base.b.set_refcount(base.l2 / cs, 0);
        auto state = analyse(base.b.bytes());
        const auto& r = state.report;
        CHECK(kinds(r) == "oflag-copied-l1 refcount-too-low");
        auto f = only(r, FindingKind::refcount_too_low);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::all);
        CHECK(f.cluster == base.l2 / cs);
        CHECK(f.host_offset == base.l2);
        CHECK(f.refcount == 0u);
        CHECK(f.references == 1u);
        CHECK(f.l1_index == 0u);
        CHECK_FALSE(f.l2_index);
        CHECK(f.owner == "L2 table for L1 index 0");
        auto c = only(r, FindingKind::copied_l1_mismatch);
        CHECK(c.refcount == 0u);
        CHECK(r.corruptions == 2);
        CHECK(r.leaks == 0);
        CHECK(state.on_disk_mismatches.size() == 1);
        CHECK(state.on_disk_mismatches.find(base.l2 / cs).value_or(~uint64_t{0}) == 0);
        CHECK(state.counts.get(base.l2 / cs) == 1);
    }
    SUBCASE("the header")
    {
        base.b.set_refcount(0, 0);
        auto r = analyse(base.b.bytes()).report;
        CHECK(kinds(r) == "refcount-too-low");
        auto f = only(r, FindingKind::refcount_too_low);
        CHECK(f.cluster == 0u);
        CHECK(f.owner == "image header");
        CHECK_FALSE(f.l1_index);
    }
    SUBCASE("a data cluster")
    {
        base.b.set_refcount(base.data16 / cs, 0);
        auto r = analyse(base.b.bytes()).report;
        CHECK(kinds(r) == "oflag-copied-l2 refcount-too-low");
        auto f = only(r, FindingKind::refcount_too_low);
        CHECK(f.cluster == base.data16 / cs);
        CHECK(f.l1_index == 0u);
        CHECK(f.l2_index == 16u);
        CHECK(f.guest_offset == 16 * cs);
        CHECK_FALSE(f.snapshot);
    }
}

TEST_CASE("refcount-too-high: leaks")
{
    BaseImage base;
    SUBCASE("a cluster nothing references")
    {
        uint64_t leaked = base.b.allocate_cluster();
        auto state = analyse(base.b.bytes());
        const auto& r = state.report;
        CHECK(kinds(r) == "refcount-too-high");
        auto f = only(r, FindingKind::refcount_too_high);
        CHECK(f.severity == Severity::leak);
        CHECK(f.repair == Repair::leaks);
        CHECK(f.cluster == leaked / cs);
        CHECK(f.host_offset == leaked);
        CHECK(f.refcount == 1u);
        CHECK(f.references == 0u);
        CHECK(f.owner == "no table references it");
        CHECK(f.message == "Leaked cluster 7 refcount=1 reference=0");
        CHECK_FALSE(f.l1_index);
        CHECK(r.leaks == 1);
        CHECK(r.corruptions == 0);
        CHECK(r.image_end_offset == leaked + cs);
        CHECK(state.counts.get(leaked / cs) == 0);
        CHECK(state.on_disk_mismatches.find(leaked / cs).value_or(~uint64_t{0}) == 1);
    }
    SUBCASE("a used data cluster with refcount 2 (and COPIED set)")
    {
        base.b.set_refcount(base.data0 / cs, 2);
        auto r = analyse(base.b.bytes()).report;
        CHECK(kinds(r) == "oflag-copied-l2 refcount-too-high");
        auto f = only(r, FindingKind::refcount_too_high);
        CHECK(f.cluster == base.data0 / cs);
        CHECK(f.refcount == 2u);
        CHECK(f.references == 1u);
        CHECK(f.l2_index == 0u);
        CHECK(f.guest_offset == 0u);
        auto c = only(r, FindingKind::copied_l2_mismatch);
        CHECK(c.refcount == 2u);
        CHECK(r.leaks == 1);
        CHECK(r.corruptions == 1);
    }
}

TEST_CASE("every refcount width: a leak, and the width's maximum on a used cluster")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        test::BuilderOptions o;
        o.refcount_order = order;
        {
            BaseImage base(o);
            uint64_t leaked = base.b.allocate_cluster();
            auto r = analyse(base.b.bytes()).report;
            CHECK(kinds(r) == "refcount-too-high");
            auto f = only(r, FindingKind::refcount_too_high);
            CHECK(f.cluster == leaked / cs);
            CHECK(f.refcount == 1u);
            CHECK(f.references == 0u);
        }
        if (order == 0)
            continue; // 1 is the maximum, and correct
        BaseImage base(o);
        const uint64_t max = refcount::max_refcount(order);
        base.b.set_refcount(base.data0 / cs, max);
        REQUIRE(base.b.refcount(base.data0 / cs) == max);
        auto r = analyse(base.b.bytes()).report;
        CHECK(kinds(r) == "oflag-copied-l2 refcount-too-high");
        auto f = only(r, FindingKind::refcount_too_high);
        CHECK(f.cluster == base.data0 / cs);
        CHECK(f.refcount == max);
        CHECK(f.references == 1u);
        CHECK(f.guest_offset == 0u);
        auto c = only(r, FindingKind::copied_l2_mismatch);
        CHECK(c.refcount == max);
        CHECK(c.l2_index == 0u);
    }
}

TEST_CASE("refcounts of every width are read from the right entry")
{
    // A leak at a cluster index that is not the first of its byte or word.
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        test::BuilderOptions o;
        o.refcount_order = order;
        test::Qcow2Builder b(o);
        for (uint64_t g = 0; g < 9; ++g)
            b.write_cluster(g, static_cast<uint8_t>(g + 1)); // hosts 4, 6-13 (L2 at 5)
        b.set_refcount(9, 0);
        b.set_refcount(14, 1); // past the file, within the block: not compared
        auto r = analyse(b.bytes()).report;
        CHECK(kinds(r) == "oflag-copied-l2 refcount-beyond-end refcount-too-low");
        auto f = only(r, FindingKind::refcount_too_low);
        CHECK(f.cluster == 9u);
        CHECK(f.refcount == 0u);
        CHECK(f.guest_offset == 4 * cs);
        CHECK(r.allocated_clusters == 9);
    }
}

TEST_CASE("image_end_offset follows the last cluster in use")
{
    BaseImage base;
    SUBCASE("trailing clusters with refcount 0 and no user do not count")
    {
        uint64_t a = base.b.allocate_cluster();
        uint64_t c = base.b.allocate_cluster();
        base.b.set_refcount(a / cs, 0);
        base.b.set_refcount(c / cs, 0);
        auto r = analyse(base.b.bytes()).report;
        CHECK(kinds(r) == "");
        CHECK(r.image_end_offset == 7 * cs);
    }
    SUBCASE("a hole in the middle does not shorten it")
    {
        uint64_t a = base.b.allocate_cluster();
        base.b.write_cluster(17, 0x33);
        base.b.set_refcount(a / cs, 0);
        auto r = analyse(base.b.bytes()).report;
        CHECK(kinds(r) == "");
        CHECK(r.image_end_offset == 9 * cs);
    }
    SUBCASE("a leaked last cluster counts")
    {
        base.b.allocate_cluster();
        CHECK(analyse(base.b.bytes()).report.image_end_offset == 8 * cs);
    }
}

TEST_CASE("OFLAG_COPIED without snapshots")
{
    // Two L2 tables, so the check covers more than the first one.
    test::BuilderOptions o;
    o.size = 1ull << 30;
    test::Qcow2Builder b(o);
    for (uint64_t g : {0u, 1u, 2u, 100u, 8192u, 8193u, 16000u})
        b.write_cluster(g, static_cast<uint8_t>(g));
    const uint64_t l2b = b.l2_offset(1);
    auto bytes = b.bytes();

    SUBCASE("all correct")
    {
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "");
        CHECK(r.allocated_clusters == 7);
    }
    SUBCASE("one L2 entry missing COPIED")
    {
        const uint64_t at = l2b + (8193 - 8192) * 8;
        uint64_t raw = get_u64(bytes, at);
        set_u64(bytes, at, raw & ~copied);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "oflag-copied-l2");
        auto f = only(r, FindingKind::copied_l2_mismatch);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::all);
        CHECK(f.l1_index == 1u);
        CHECK(f.l2_index == 1u);
        CHECK(f.guest_offset == 8193 * cs);
        CHECK(f.host_offset == at);
        CHECK(f.cluster == (raw & qcow2::offset_mask) / cs);
        CHECK(f.refcount == 1u);
        CHECK_FALSE(f.snapshot);
        CHECK(r.corruptions == 1);
    }
    SUBCASE("one L1 entry missing COPIED")
    {
        set_u64(bytes, b.l1_offset() + 8, l2b);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "oflag-copied-l1");
        auto f = only(r, FindingKind::copied_l1_mismatch);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::all);
        CHECK(f.l1_index == 1u);
        CHECK_FALSE(f.l2_index);
        CHECK(f.host_offset == b.l1_offset() + 8);
        CHECK(f.cluster == l2b / cs);
        CHECK(f.refcount == 1u);
    }
    SUBCASE("COPIED on an L2 entry whose cluster has refcount 2")
    {
        uint64_t host = get_u64(bytes, l2b) & qcow2::offset_mask; // guest 8192
        b.set_refcount(host / cs, 2);
        auto r = analyse(b.bytes()).report;
        CHECK(kinds(r) == "oflag-copied-l2 refcount-too-high");
        auto f = only(r, FindingKind::copied_l2_mismatch);
        CHECK(f.refcount == 2u);
        CHECK(f.l1_index == 1u);
        CHECK(f.l2_index == 0u);
    }
    SUBCASE("every entry missing COPIED")
    {
        for (uint64_t i = 0; i < 2; ++i)
            set_u64(bytes, b.l1_offset() + i * 8, get_u64(bytes, b.l1_offset() + i * 8) & ~copied);
        for (uint64_t g : {0u, 1u, 2u, 100u})
            set_u64(bytes, b.l2_offset(0) + g * 8, get_u64(bytes, b.l2_offset(0) + g * 8) & ~copied);
        for (uint64_t g : {8192u, 8193u, 16000u})
            set_u64(bytes, l2b + (g - 8192) * 8, get_u64(bytes, l2b + (g - 8192) * 8) & ~copied);
        auto r = analyse(bytes).report;
        CHECK(test::findings_of(r, FindingKind::copied_l1_mismatch).size() == 2);
        CHECK(test::findings_of(r, FindingKind::copied_l2_mismatch).size() == 7);
        CHECK(r.corruptions == 9);
    }
}

TEST_CASE("OFLAG_COPIED with a snapshot sharing the clusters")
{
    BaseImage base;
    uint64_t snap_l1 = base.b.take_snapshot("1", "s1");
    auto bytes = base.b.bytes();
    REQUIRE((get_u64(bytes, base.b.l1_offset()) & copied) == 0);
    REQUIRE((get_u64(bytes, base.entry(16)) & copied) == 0);

    SUBCASE("all correct")
    {
        CHECK(kinds(analyse(bytes).report) == "");
    }
    SUBCASE("COPIED wrongly set on a shared data cluster")
    {
        set_u64(bytes, base.entry(16), get_u64(bytes, base.entry(16)) | copied);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "oflag-copied-l2");
        auto f = only(r, FindingKind::copied_l2_mismatch);
        CHECK(f.l1_index == 0u);
        CHECK(f.l2_index == 16u);
        CHECK(f.guest_offset == 16 * cs);
        CHECK(f.host_offset == base.entry(16));
        CHECK(f.cluster == base.data16 / cs);
        CHECK(f.refcount == 2u);
        CHECK(f.message == "ERROR OFLAG_COPIED data cluster: l2_entry=8000000000060000 refcount=2");
    }
    SUBCASE("COPIED wrongly set on the shared L2 table")
    {
        set_u64(bytes, base.b.l1_offset(), base.l2 | copied);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "oflag-copied-l1");
        auto f = only(r, FindingKind::copied_l1_mismatch);
        CHECK(f.l1_index == 0u);
        CHECK(f.cluster == base.l2 / cs);
        CHECK(f.refcount == 2u);
        CHECK(f.host_offset == base.b.l1_offset());
    }
    SUBCASE("COPIED in a snapshot's L1 entry is not checked")
    {
        set_u64(bytes, snap_l1, base.l2 | copied);
        CHECK(kinds(analyse(bytes).report) == "");
    }
    SUBCASE("a cluster no longer shared must get COPIED back")
    {
        // The active entry moved to a fresh cluster (as after a guest write
        // into a copy of the table), but COPIED was not set.
        uint64_t fresh = base.b.allocate_cluster();
        // the snapshot keeps its own L2 table
        auto table = base.b.bytes();
        uint64_t snap_l2 = base.b.add_blob(std::vector<uint8_t>(table.begin() + static_cast<ptrdiff_t>(base.l2),
                                                                 table.begin() + static_cast<ptrdiff_t>(base.l2 + cs)));
        base.b.set_refcount(base.l2 / cs, 1);
        base.b.set_refcount(base.data16 / cs, 1);
        auto b2 = base.b.bytes();
        set_u64(b2, snap_l1, snap_l2);
        set_u64(b2, base.b.l1_offset(), base.l2 | copied);
        set_u64(b2, base.entry(16), fresh);
        auto r = analyse(b2).report;
        CHECK(kinds(r) == "oflag-copied-l2");
        auto f = only(r, FindingKind::copied_l2_mismatch);
        CHECK(f.l2_index == 16u);
        CHECK(f.cluster == fresh / cs);
        CHECK(f.refcount == 1u);
        // guest 0's cluster is still shared: no COPIED there is right
    }
}

TEST_CASE("OFLAG_COPIED in an image with an external data file: data clusters count as refcount 1")
{
    test::BuilderOptions o;
    o.extra_incompatible = qcow2::incompat_data_file;
    std::string name = "data.raw";
    o.extensions.emplace_back(qcow2::ext_data_file, std::vector<uint8_t>(name.begin(), name.end()));
    test::Qcow2Builder b(o);
    b.set_l2_entry(0, copied);
    b.set_l2_entry(16, 16 * cs | copied);
    auto bytes = b.bytes();
    const uint64_t l2 = b.l2_offset(0);

    SUBCASE("all correct")
    {
        CHECK(kinds(analyse(bytes).report) == "");
    }
    SUBCASE("COPIED missing on a data file cluster")
    {
        set_u64(bytes, l2 + 16 * 8, 16 * cs);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "oflag-copied-l2");
        auto f = only(r, FindingKind::copied_l2_mismatch);
        CHECK(f.refcount == 1u);
        CHECK(f.l2_index == 16u);
        CHECK(f.cluster == 16u); // in the data file
        CHECK(f.host_offset == l2 + 16 * 8);
        CHECK(f.message == "ERROR OFLAG_COPIED data cluster: l2_entry=100000 refcount=1");
    }
    SUBCASE("offset 0 without COPIED is unallocated")
    {
        set_u64(bytes, l2, 0);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "");
        CHECK(r.allocated_clusters == 1);
    }
    SUBCASE("a data file offset equal to an image cluster does not count for the image")
    {
        set_u64(bytes, l2 + 16 * 8, l2 | copied);
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "");
        CHECK(state.counts.get(l2 / cs) == 1);
        CHECK(state.conflicts.empty());
    }
}
