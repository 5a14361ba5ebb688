// What the walk over the tables finds (lib/check/reference_walker.cpp):
// damaged L1 and L2 entries, compressed and extended L2 entries, external
// data files, snapshot L1 tables, and tables that cannot be read. Tested
// through check::analyse_qcow2.
#include "fixtures/check_fixture.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/extensions.hpp"
#include "qcow2/l2_entry.hpp"
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


// The location every L2 entry finding of guest cluster 16 in BaseImage carries.
void check_at_entry16(const check::Finding& f, const BaseImage& base)
{
    CHECK(f.host_offset == base.entry(16));
    CHECK(f.l1_index == 0u);
    CHECK(f.l2_index == 16u);
    CHECK(f.guest_offset == 16 * cs);
    CHECK_FALSE(f.snapshot);
}

test::BuilderOptions with_data_file()
{
    test::BuilderOptions o;
    o.extra_incompatible = qcow2::incompat_data_file;
    std::string name = "data.raw";
    o.extensions.emplace_back(qcow2::ext_data_file, std::vector<uint8_t>(name.begin(), name.end()));
    return o;
}

} // namespace

TEST_CASE("l1-reserved-bits")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    uint64_t bits = 0;
    SUBCASE("bit 56") { bits = 1ull << 56; }
    SUBCASE("bit 62") { bits = 1ull << 62; }
    SUBCASE("bit 0") { bits = 1; }
    SUBCASE("bit 8") { bits = 0x100; }
    CAPTURE(bits);
    set_u64(bytes, base.b.l1_offset(), get_u64(bytes, base.b.l1_offset()) | bits);
    auto state = analyse(bytes);
    const auto& r = state.report;
    CHECK(kinds(r) == "l1-reserved-bits");
    auto f = only(r, FindingKind::l1_reserved_bits);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::none);
    CHECK(f.host_offset == base.b.l1_offset());
    CHECK(f.l1_index == 0u);
    CHECK_FALSE(f.l2_index);
    CHECK_FALSE(f.snapshot);
    CHECK(r.corruptions == 1);
    // the table it names is still walked
    CHECK(r.allocated_clusters == 2);
    CHECK(state.counts.get(base.data16 / cs) == 1);
}

TEST_CASE("l1-reserved-bits at L1 index 1 of a larger image")
{
    test::BuilderOptions o;
    o.size = 1ull << 30;
    test::Qcow2Builder b(o);
    b.write_cluster(0, 1);
    b.write_cluster(8192, 2);
    auto bytes = b.bytes();
    set_u64(bytes, b.l1_offset() + 8, get_u64(bytes, b.l1_offset() + 8) | (1ull << 57));
    auto f = only(analyse(bytes).report, FindingKind::l1_reserved_bits);
    CHECK(f.l1_index == 1u);
    CHECK(f.host_offset == b.l1_offset() + 8);
}

TEST_CASE("unaligned-l2-table")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    set_u64(bytes, base.b.l1_offset(), (base.l2 + 0x200) | copied);
    auto state = analyse(bytes);
    const auto& r = state.report;
    auto f = only(r, FindingKind::unaligned_l2_table);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::none);
    CHECK(f.host_offset == base.l2 + 0x200);
    CHECK(f.l1_index == 0u);
    CHECK_FALSE(f.snapshot);
    // The "table" read from there ends with the first 512 bytes of guest
    // cluster 16's data (0x22 bytes): 64 entries with reserved bits.
    auto reserved = test::findings_of(r, FindingKind::l2_reserved_bits);
    CHECK(reserved.size() == 64);
    REQUIRE_FALSE(reserved.empty());
    CHECK(reserved.back().l2_index == 8191u);
    CHECK(reserved.back().guest_offset == 8191 * cs);
    CHECK(reserved.back().host_offset == base.l2 + 0x200 + 8191 * 8);
    // Their offsets (0x0022222222222200) are not cluster aligned and lie
    // far past the end of the file.
    CHECK(test::findings_of(r, FindingKind::unaligned_data_cluster).size() == 64);
    CHECK(test::findings_of(r, FindingKind::beyond_end_of_file).size() == 64);
    CHECK(r.corruptions == 1 + 3 * 64);
    // The "table" straddles the L2 cluster and guest cluster 16's data,
    // which nothing else references now; guest cluster 0's data leaks.
    CHECK(kinds(r) ==
          "beyond-end-of-file l2-reserved-bits refcount-too-high unaligned-data-cluster unaligned-l2-table");
    CHECK(only(r, FindingKind::refcount_too_high).cluster == base.data0 / cs);
    CHECK(state.counts.get(base.l2 / cs) == 1);
    CHECK(state.counts.get(base.data16 / cs) == 1);
    CHECK(state.conflicts.empty());
}

TEST_CASE("unaligned-data-cluster: the data straddles two host clusters")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    set_u64(bytes, base.entry(16), (base.data16 - 0x200) | copied);
    auto state = analyse(bytes);
    const auto& r = state.report;
    // it starts in the L2 table's cluster
    CHECK(kinds(r) == "refcount-too-low unaligned-data-cluster");
    auto f = only(r, FindingKind::unaligned_data_cluster);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::none);
    check_at_entry16(f, base);
    auto low = only(r, FindingKind::refcount_too_low);
    CHECK(low.cluster == base.l2 / cs);
    CHECK(low.references == 2u);
    CHECK(state.conflicts == std::vector<uint64_t>{base.l2 / cs});
    CHECK(r.allocated_clusters == 2);
}

TEST_CASE("unaligned-preallocated-zero: -r all can fix it")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    set_u64(bytes, base.entry(16), get_u64(bytes, base.entry(16)) | 0x201);
    auto state = analyse(bytes);
    const auto& r = state.report;
    CHECK(kinds(r) == "refcount-too-low unaligned-preallocated-zero");
    auto f = only(r, FindingKind::unaligned_prealloc_zero);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::all);
    check_at_entry16(f, base);
    // The cluster runs 512 bytes past the end of the file: counted, with
    // refcount 0 on disk, and the end offset grows to cover it.
    auto low = only(r, FindingKind::refcount_too_low);
    CHECK(low.cluster == 7u);
    CHECK(low.refcount == 0u);
    CHECK(low.references == 1u);
    CHECK(state.counts.size() == 8);
    CHECK(r.image_end_offset == 8 * cs);
}

TEST_CASE("unaligned zero flag on an extended L2 entry: the bitmap decides data or zero")
{
    test::BuilderOptions o;
    o.extended_l2 = true;
    BaseImage base(o);
    auto bytes = base.b.bytes();
    const uint64_t at = base.entry(16, 16);
    set_u64(bytes, at, get_u64(bytes, at) | 0x200);
    SUBCASE("allocated subclusters: data")
    {
        auto f = only(analyse(bytes).report, FindingKind::unaligned_data_cluster);
        CHECK(f.host_offset == at);
    }
    SUBCASE("every subcluster zero: preallocated zero")
    {
        set_u64(bytes, at + 8, 0xffffffff00000000ull);
        auto f = only(analyse(bytes).report, FindingKind::unaligned_prealloc_zero);
        CHECK(f.host_offset == at);
        CHECK(f.repair == Repair::all);
    }
}

TEST_CASE("l2-reserved-bits")
{
    BaseImage base;
    auto bytes = base.b.bytes();
    SUBCASE("on an allocated entry")
    {
        uint64_t bits = 0;
        SUBCASE("bit 56") { bits = 1ull << 56; }
        SUBCASE("bit 61") { bits = 1ull << 61; }
        SUBCASE("bit 1") { bits = 0x2; }
        SUBCASE("bit 8") { bits = 0x100; }
        CAPTURE(bits);
        set_u64(bytes, base.entry(16), get_u64(bytes, base.entry(16)) | bits);
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "l2-reserved-bits");
        auto f = only(state.report, FindingKind::l2_reserved_bits);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        check_at_entry16(f, base);
        CHECK(state.counts.get(base.data16 / cs) == 1);
    }
    SUBCASE("on an unallocated entry")
    {
        set_u64(bytes, base.entry(32), 1ull << 56);
        auto f = only(analyse(bytes).report, FindingKind::l2_reserved_bits);
        CHECK(f.l2_index == 32u);
        CHECK(f.guest_offset == 32 * cs);
        CHECK(f.host_offset == base.entry(32));
    }
    SUBCASE("the zero flag and COPIED on an unallocated entry are not errors")
    {
        set_u64(bytes, base.entry(32), 1);
        set_u64(bytes, base.entry(33), copied);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "");
        CHECK(r.allocated_clusters == 2);
    }
    SUBCASE("bit 0 of a version 2 image is not reserved")
    {
        test::BuilderOptions o;
        o.version = 2;
        BaseImage v2(o);
        auto v2bytes = v2.b.bytes();
        set_u64(v2bytes, v2.entry(16), get_u64(v2bytes, v2.entry(16)) | 1);
        CHECK(kinds(analyse(v2bytes).report) == "");
    }
}

TEST_CASE("compressed clusters: clean zlib and zstd images")
{
    test::BuilderOptions o;
    SUBCASE("zlib") { o.compression_type = qcow2::CompressionType::zlib; }
    SUBCASE("zstd") { o.compression_type = qcow2::CompressionType::zstd; }
    test::Qcow2Builder b(o);
    uint64_t c0 = b.write_compressed_cluster(0, 0x33) & qcow2::offset_mask;
    uint64_t c1 = b.write_compressed_cluster(1, 0x44) & qcow2::offset_mask;
    b.write_cluster(16, 0x55);
    check::CheckOptions verify;
    verify.verify_compressed = check::VerifyCompressed::yes;
    auto state = analyse(b.bytes(), verify);
    const auto& r = state.report;
    CHECK(kinds(r) == "");
    CHECK(r.allocated_clusters == 3);
    CHECK(r.compressed_clusters == 2);
    CHECK(r.fragmented_clusters == 2); // compressed clusters count as fragmented
    CHECK(state.counts.get(c0 / cs) == 1);
    CHECK(state.counts.get(c1 / cs) == 1);
}

TEST_CASE("compressed-copied: COPIED on a compressed entry")
{
    test::Qcow2Builder b;
    b.write_cluster(0, 1);
    uint64_t raw = b.write_compressed_cluster(1, 0x44);
    auto bytes = b.bytes();
    const uint64_t at = b.l2_offset(0) + 8;
    set_u64(bytes, at, raw | copied);
    auto state = analyse(bytes);
    const auto& r = state.report;
    CHECK(kinds(r) == "compressed-copied");
    auto f = only(r, FindingKind::compressed_copied);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::all);
    CHECK(f.host_offset == at);
    CHECK(f.l1_index == 0u);
    CHECK(f.l2_index == 1u);
    CHECK(f.guest_offset == cs);
    // still counted as the compressed cluster it is
    CHECK(r.compressed_clusters == 1);
    CHECK(state.counts.get((raw & qcow2::offset_mask) / cs) == 1);
}

TEST_CASE("compressed-with-bitmap: an extended L2 compressed entry with a bitmap is skipped")
{
    test::BuilderOptions o;
    o.extended_l2 = true;
    test::Qcow2Builder b(o);
    b.write_cluster(0, 1);
    uint64_t host = b.write_compressed_cluster(1, 2) & qcow2::offset_mask;
    auto bytes = b.bytes();
    const uint64_t at = b.l2_offset(0) + 16;
    set_u64(bytes, at + 8, 1);
    auto r = analyse(bytes).report;
    CHECK(kinds(r) == "compressed-with-bitmap refcount-too-high");
    auto f = only(r, FindingKind::compressed_with_bitmap);
    CHECK(f.severity == Severity::corruption);
    CHECK(f.repair == Repair::none);
    CHECK(f.host_offset == at);
    CHECK(f.l2_index == 1u);
    CHECK(f.guest_offset == cs);
    auto leak = only(r, FindingKind::refcount_too_high);
    CHECK(leak.cluster == host / cs);
    CHECK(leak.references == 0u);
    CHECK(r.compressed_clusters == 0);
}

TEST_CASE("subcluster-allocated-and-zero and unallocated-with-bitmap (extended L2)")
{
    test::BuilderOptions o;
    o.extended_l2 = true;
    BaseImage base(o);
    auto bytes = base.b.bytes();
    const uint64_t at = base.entry(16, 16);

    SUBCASE("clean")
    {
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "");
        CHECK(state.report.allocated_clusters == 2);
        CHECK(state.counts.get(base.data16 / cs) == 1);
    }
    SUBCASE("an allocated entry whose subclusters all read as zeros is clean")
    {
        set_u64(bytes, at + 8, 0xffffffff00000000ull);
        CHECK(kinds(analyse(bytes).report) == "");
    }
    SUBCASE("subcluster 0 allocated and zero")
    {
        set_u64(bytes, at + 8, 0x00000001ffffffffull);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "subcluster-allocated-and-zero");
        auto f = only(r, FindingKind::subcluster_alloc_and_zero);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(f.host_offset == at);
        CHECK(f.l2_index == 16u);
        CHECK(f.guest_offset == 16 * cs);
    }
    SUBCASE("an unallocated entry with an allocation bit")
    {
        const uint64_t at48 = base.entry(48, 16);
        set_u64(bytes, at48 + 8, 1);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "unallocated-with-bitmap");
        auto f = only(r, FindingKind::unallocated_with_bitmap);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(f.host_offset == at48);
        CHECK(f.l2_index == 48u);
        CHECK(f.guest_offset == 48 * cs);
    }
    SUBCASE("an unallocated entry reading as zeros is clean")
    {
        set_u64(bytes, base.entry(48, 16) + 8, 0xffffffff00000000ull);
        CHECK(kinds(analyse(bytes).report) == "");
    }
}

TEST_CASE("external data file: data clusters are not counted in the image file")
{
    test::Qcow2Builder b(with_data_file());
    // Guest cluster n at data file offset n * cs (offset 0 with COPIED is allocated).
    b.set_l2_entry(0, copied);
    b.set_l2_entry(1, cs | copied);
    b.set_l2_entry(16, 16 * cs | copied);
    auto bytes = b.bytes();

    SUBCASE("clean")
    {
        auto state = analyse(bytes);
        CHECK(kinds(state.report) == "");
        CHECK(state.report.allocated_clusters == 3);
        CHECK(state.report.fragmented_clusters == 1);
        CHECK(state.counts.size() == 5); // header, refcount table and block, L1, L2
        CHECK(state.counts.get(1) == 1);
    }
    SUBCASE("compressed-with-data-file")
    {
        test::Qcow2Builder c(with_data_file());
        c.set_l2_entry(0, copied);
        uint64_t host = c.write_compressed_cluster(1, 7) & qcow2::offset_mask;
        auto r = analyse(c.bytes()).report;
        CHECK(kinds(r) == "compressed-with-data-file refcount-too-high");
        auto f = only(r, FindingKind::compressed_with_data_file);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(f.l2_index == 1u);
        CHECK(f.guest_offset == cs);
        CHECK(f.host_offset == c.l2_offset(0) + 8);
        CHECK(f.message == "ERROR compressed cluster 1 with data file, entry=0x4000000000050000");
        CHECK(only(r, FindingKind::refcount_too_high).cluster == host / cs);
    }
    SUBCASE("snapshots-with-data-file")
    {
        b.take_snapshot("1", "s1", test::SnapshotRefcounts::unchanged);
        auto r = analyse(b.bytes()).report;
        // the shared L2 table is counted twice with refcount 1
        CHECK(kinds(r) == "refcount-too-low snapshots-with-data-file");
        auto f = only(r, FindingKind::snapshots_with_data_file);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(only(r, FindingKind::refcount_too_low).cluster == b.l2_offset(0) / cs);
    }
}

TEST_CASE("snapshot L1 tables: unaligned, too large, an entry beyond the file, reserved bits")
{
    BaseImage base;
    uint64_t snap_l1 = base.b.take_snapshot("1", "s1");
    auto bytes = base.b.bytes();
    const uint64_t entry = base.b.snapshot_entry_offset(0);
    // Without the snapshot's walk, the clusters it shares have one reference too few.
    const std::vector<uint64_t> unwalked{base.data0 / cs, base.l2 / cs, base.data16 / cs, snap_l1 / cs};

    SUBCASE("snapshot-l1-unaligned")
    {
        set_u64(bytes, entry, snap_l1 | 0x200);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "refcount-too-high snapshot-l1-unaligned");
        auto f = only(r, FindingKind::snapshot_l1_unaligned);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.repair == Repair::none);
        CHECK(f.snapshot == "1");
        CHECK(f.host_offset == entry);
        CHECK(f.message == "ERROR snapshot 1 (s1) l1_offset=0x70200: L1 table is not cluster aligned; "
                           "snapshot table entry corrupted");
        CHECK(test::clusters_of(r, FindingKind::refcount_too_high) == unwalked);
        CHECK(test::about(r, FindingKind::refcount_too_high, snap_l1 / cs).references == 0u);
    }
    SUBCASE("snapshot-l1-too-large")
    {
        util::store_be32(bytes, entry + 8, 0x400001);
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "refcount-too-high snapshot-l1-too-large");
        auto f = only(r, FindingKind::snapshot_l1_too_large);
        CHECK(f.severity == Severity::corruption);
        CHECK(f.snapshot == "1");
        CHECK(f.host_offset == entry);
        CHECK(test::clusters_of(r, FindingKind::refcount_too_high) == unwalked);
    }
    SUBCASE("a snapshot L1 table beyond the end of the file")
    {
        set_u64(bytes, entry, 0x1000000);
        auto f = only(analyse(bytes).report, FindingKind::beyond_end_of_file);
        CHECK(f.host_offset == 0x1000000u);
        CHECK(f.snapshot == "1");
        CHECK(f.owner == "L1 table of snapshot 1");
    }
    SUBCASE("a snapshot L1 entry beyond the end of the file")
    {
        set_u64(bytes, snap_l1, 0x1000000);
        auto f = only(analyse(bytes).report, FindingKind::beyond_end_of_file);
        CHECK(f.host_offset == 0x1000000u);
        CHECK(f.snapshot == "1");
        CHECK(f.l1_index == 0u);
    }
    SUBCASE("reserved bits in a snapshot L1 entry")
    {
        set_u64(bytes, snap_l1, get_u64(bytes, snap_l1) | (1ull << 56));
        auto r = analyse(bytes).report;
        CHECK(kinds(r) == "l1-reserved-bits");
        auto f = only(r, FindingKind::l1_reserved_bits);
        CHECK(f.snapshot == "1");
        CHECK(f.host_offset == snap_l1);
    }
}

TEST_CASE("l2-reserved-bits in a snapshot's own L2 table")
{
    BaseImage base;
    uint64_t snap_l1 = base.b.take_snapshot("1", "s1");
    // Give the snapshot its own copy of the L2 table, as a later guest write would.
    auto l2_copy = base.b.bytes();
    std::vector<uint8_t> table(l2_copy.begin() + static_cast<ptrdiff_t>(base.l2),
                               l2_copy.begin() + static_cast<ptrdiff_t>(base.l2 + cs));
    uint64_t snap_l2 = base.b.add_blob(table);
    base.b.set_refcount(base.l2 / cs, 1);
    auto bytes = base.b.bytes();
    set_u64(bytes, snap_l1, snap_l2);
    set_u64(bytes, base.b.l1_offset(), base.l2 | copied);
    REQUIRE(kinds(analyse(bytes).report) == "");
    set_u64(bytes, snap_l2, get_u64(bytes, snap_l2) | (1ull << 56));
    auto r = analyse(bytes).report;
    CHECK(kinds(r) == "l2-reserved-bits");
    auto f = only(r, FindingKind::l2_reserved_bits);
    CHECK(f.snapshot == "1");
    CHECK(f.l1_index == 0u);
    CHECK(f.l2_index == 0u);
    CHECK(f.guest_offset == 0u);
    CHECK(f.host_offset == snap_l2);
}

TEST_CASE("table-unreadable: an I/O error reading a table is a check error")
{
    BaseImage base;
    auto dev = std::make_shared<test::FailingReads>(base.b.bytes());
    auto image = qcow2::Image::open(dev);
    REQUIRE(image);
    SUBCASE("an L2 table")
    {
        dev->fail_reads(base.l2, cs);
        auto state = check::analyse_qcow2(**image);
        REQUIRE(state);
        const auto& r = state->report;
        auto unreadable = test::findings_of(r, FindingKind::table_unreadable);
        REQUIRE_FALSE(unreadable.empty());
        for (const auto& f : unreadable) {
            CHECK(f.severity == Severity::check_error);
            CHECK(f.repair == Repair::none);
            CHECK(f.host_offset == base.l2);
        }
        CHECK(r.check_errors == unreadable.size());
        // its data clusters were not counted
        CHECK(state->counts.get(base.data0 / cs) == 0);
        CHECK(state->counts.get(base.l2 / cs) == 1);
    }
    SUBCASE("the active L1 table, after the image was opened")
    {
        dev->fail_reads(base.b.l1_offset(), 8);
        auto state = check::analyse_qcow2(**image);
        REQUIRE(state);
        const auto& r = state->report;
        auto f = only(r, FindingKind::table_unreadable);
        CHECK(f.severity == Severity::check_error);
        CHECK(f.host_offset == base.b.l1_offset());
        CHECK(r.check_errors == 1);
        CHECK(state->counts.get(base.l2 / cs) == 0);
    }
}
