// What qemu-img check stays silent about (lib/check/warnings.cpp): header
// bits, refcounts past the end of the file, compressed clusters that do
// not decompress. Warnings never change the counters.
#include "fixtures/check_fixture.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/l2_entry.hpp"

#include <doctest/doctest.h>

using namespace imgmend;
using check::FindingKind;
using check::Repair;
using check::Severity;
using test::analyse;
using test::BaseImage;
using test::kinds;
using test::only;
using test::contains;

namespace {

constexpr uint64_t cs = BaseImage::cs;


} // namespace

TEST_CASE("dirty-bit")
{
    test::BuilderOptions o;
    o.extra_incompatible = qcow2::incompat_dirty;
    bool lazy = false;
    SUBCASE("with lazy refcounts") { lazy = true; }
    SUBCASE("without lazy refcounts") { lazy = false; }
    CAPTURE(lazy);
    if (lazy)
        o.compatible_features = qcow2::compat_lazy_refcounts;
    BaseImage base(o);
    auto r = analyse(base.b.bytes()).report;
    CHECK(kinds(r) == "dirty-bit");
    auto f = only(r, FindingKind::dirty_bit);
    CHECK(f.severity == Severity::warning);
    CHECK(f.repair == Repair::all);
    CHECK(contains(f.message, lazy ? "not written back" : "lazy refcounts are off"));
    CHECK(r.corruptions + r.leaks + r.check_errors == 0);
    CHECK(r.warnings() == 1);
}

TEST_CASE("lazy refcounts without the dirty bit: nothing to say")
{
    test::BuilderOptions o;
    o.compatible_features = qcow2::compat_lazy_refcounts;
    BaseImage base(o);
    CHECK(kinds(analyse(base.b.bytes()).report) == "");
}

TEST_CASE("corrupt-bit")
{
    test::BuilderOptions o;
    o.extra_incompatible = qcow2::incompat_corrupt;
    BaseImage base(o);
    auto r = analyse(base.b.bytes()).report;
    CHECK(kinds(r) == "corrupt-bit");
    auto f = only(r, FindingKind::corrupt_bit);
    CHECK(f.severity == Severity::warning);
    CHECK(f.repair == Repair::all);
    CHECK(r.corruptions + r.leaks + r.check_errors == 0);
}

TEST_CASE("unknown-autoclear-bits")
{
    test::BuilderOptions o;
    o.autoclear_features = 0x4 | qcow2::autoclear_data_file_raw;
    BaseImage base(o);
    auto r = analyse(base.b.bytes()).report;
    CHECK(kinds(r) == "unknown-autoclear-bits");
    auto f = only(r, FindingKind::unknown_autoclear_bits);
    CHECK(f.severity == Severity::warning);
    CHECK(f.repair == Repair::none);
    CHECK(contains(f.message, "0x4 "));
    CHECK(r.corruptions + r.leaks + r.check_errors == 0);
}

TEST_CASE("warnings do not change the counters of what they come with")
{
    test::BuilderOptions o;
    o.extra_incompatible = qcow2::incompat_dirty | qcow2::incompat_corrupt;
    o.autoclear_features = 0x8;
    BaseImage base(o);
    base.b.allocate_cluster();
    auto r = analyse(base.b.bytes()).report;
    CHECK(kinds(r) == "corrupt-bit dirty-bit refcount-too-high unknown-autoclear-bits");
    CHECK(r.leaks == 1);
    CHECK(r.corruptions == 0);
    CHECK(r.check_errors == 0);
    CHECK(r.warnings() == 3);
}

TEST_CASE("refcount-beyond-end: non-zero refcounts past the end of the file")
{
    BaseImage base;
    base.b.set_refcount(20, 1);
    base.b.set_refcount(300, 5);
    auto state = analyse(base.b.bytes());
    const auto& r = state.report;
    CHECK(kinds(r) == "refcount-beyond-end");
    auto f = only(r, FindingKind::refcount_beyond_end);
    CHECK(f.severity == Severity::warning);
    CHECK(f.repair == Repair::none);
    CHECK(f.host_offset == 7 * cs);
    CHECK(f.message.rfind("2 clusters", 0) == 0);
    CHECK(r.corruptions + r.leaks + r.check_errors == 0);
    // qemu-img check looks no further than the file
    CHECK(r.image_end_offset == 7 * cs);
}

TEST_CASE("compressed-undecodable: only with --verify-compressed")
{
    test::BuilderOptions o;
    SUBCASE("zlib") { o.compression_type = qcow2::CompressionType::zlib; }
    SUBCASE("zstd") { o.compression_type = qcow2::CompressionType::zstd; }
    test::Qcow2Builder b(o);
    b.write_compressed_cluster(0, 0x33);
    uint64_t raw = b.write_compressed_cluster(1, 0x44);
    const uint64_t host = raw & qcow2::offset_mask;
    auto bytes = b.bytes();
    std::fill_n(bytes.begin() + static_cast<ptrdiff_t>(host), 64, 0xff);

    CHECK(kinds(analyse(bytes).report) == "");

    check::CheckOptions verify;
    verify.verify_compressed = check::VerifyCompressed::yes;
    auto r = analyse(bytes, verify).report;
    CHECK(kinds(r) == "compressed-undecodable");
    auto f = only(r, FindingKind::compressed_undecodable);
    CHECK(f.severity == Severity::warning);
    CHECK(f.repair == Repair::none);
    CHECK(f.host_offset == host);
    CHECK(f.l1_index == 0u);
    CHECK(f.l2_index == 1u);
    CHECK(f.guest_offset == cs);
    CHECK_FALSE(f.snapshot);
    CHECK(r.corruptions + r.leaks + r.check_errors == 0);
    CHECK(r.compressed_clusters == 2);
}
