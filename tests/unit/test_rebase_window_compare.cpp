// One window of a safe rebase (lib/rebase/window_compare.cpp): which of
// the overlay's unallocated subclusters read differently through the old
// chain and the new backing, and what goes into the overlay for them.
//
// The overlay is in memory; the chains are files in a test directory
// (formats::Chain opens only paths). Each case runs every window, lets the
// writer and allocator plan their tables, and then checks three things:
// the guest reads through the rewritten overlay on the new backing what it
// read through the old overlay on the old chain; what the overlay now
// holds, subcluster by subcluster; and the figures in RebaseStats.
#include "fixtures/check_fixture.hpp"
#include "fixtures/doctest_printers.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "fixtures/temp_dir.hpp"
#include "formats/chain.hpp"
#include "qcow2/image.hpp"
#include "qcow2/l2_entry.hpp"
#include "rebase/allocator.hpp"
#include "rebase/overlay_writer.hpp"
#include "rebase/window_compare.hpp"
#include "util/checked.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace imgmend;
using rebase::Compress;
using rebase::RebaseStats;
using rebase::WindowCompare;
using util::Errc;

namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t cs = 64 * KiB;
constexpr uint64_t scs = 2 * KiB; // subclusters of 64 KiB extended-L2 clusters

enum class Kind { never_zero, noise, compressible };

// never_zero: no zero byte anywhere, so no subcluster reads as zeros;
// noise: every byte value, which no compressor can shrink; compressible:
// runs of 4 KiB.
std::vector<uint8_t> pattern(uint64_t size, uint8_t seed, Kind kind = Kind::never_zero)
{
    std::vector<uint8_t> v(size);
    uint32_t x = 0x9e3779b9u * (seed + 1u);
    for (uint64_t i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        switch (kind) {
        case Kind::never_zero: v[i] = static_cast<uint8_t>(x % 255 + 1); break;
        case Kind::noise: v[i] = static_cast<uint8_t>(x >> 24); break;
        case Kind::compressible: v[i] = static_cast<uint8_t>(1 + (i / 4096 + seed) % 200); break;
        }
    }
    return v;
}

formats::Chain open_chain(const std::string& path, std::optional<formats::Format> format = std::nullopt)
{
    formats::OpenOptions o;
    o.format = format;
    auto c = formats::Chain::open(path, o);
    REQUIRE(c);
    return std::move(*c);
}

std::unique_ptr<qcow2::Image> open_image(const std::vector<uint8_t>& bytes)
{
    auto img = qcow2::Image::open(std::make_shared<io::MemoryDevice>(bytes));
    REQUIRE(img);
    return std::move(*img);
}

// What the guest reads through `overlay` over `chain` (zeros where the chain
// is absent or shorter).
std::vector<uint8_t> guest_view(const std::vector<uint8_t>& overlay, formats::Chain* chain)
{
    auto img = open_image(overlay);
    const uint64_t size = img->geometry().virtual_size;
    std::vector<uint8_t> out(size, 0);
    for (uint64_t off = 0; off < size;) {
        auto st = img->range_status(off, size - off);
        REQUIRE(st);
        REQUIRE(st->length > 0);
        auto piece = std::span<uint8_t>(out).subspan(off, st->length);
        if (st->kind != qcow2::RangeKind::unallocated) {
            REQUIRE(img->read_allocated(off, *st, piece));
        } else if (chain && off < chain->size()) {
            REQUIRE(chain->read(off, piece.first(std::min<uint64_t>(piece.size(), chain->size() - off))));
        }
        off += st->length;
    }
    return out;
}

// One letter per unit (cluster or subcluster) of guest [from, to):
// '.' unallocated, 'z' zeros, 'd' data, 'c' compressed.
std::string layout(const std::vector<uint8_t>& overlay, uint64_t from, uint64_t to, uint64_t unit)
{
    auto img = open_image(overlay);
    const uint64_t size = img->geometry().virtual_size;
    std::string out;
    for (uint64_t off = from; off < to; off += unit) {
        REQUIRE(off < size);
        auto st = img->range_status(off, std::min(unit, size - off));
        REQUIRE(st);
        const char letters[] = {'.', 'z', 'd', 'c'};
        out += letters[static_cast<int>(st->kind)];
    }
    return out;
}

// `n` units of '.', with the given ones replaced.
std::string expect(size_t n, std::initializer_list<std::pair<size_t, char>> marks, char fill = '.')
{
    std::string s(n, fill);
    for (auto [i, c] : marks)
        s[i] = c;
    return s;
}

struct Rebased {
    RebaseStats stats;
    std::vector<uint8_t> before;
    std::vector<uint8_t> after;
    uint64_t compressed_clusters = 0;
};

// Runs WindowCompare over every window of `overlay`, then writes the
// tables as the rebase does (without the header switch).
Rebased rebase_windows(std::vector<uint8_t> overlay, formats::Chain* old_chain, formats::Chain* new_chain,
                       size_t in_chain = SIZE_MAX, Compress compress = Compress::no)
{
    Rebased r;
    r.before = overlay;
    auto dev = std::make_shared<io::MemoryDevice>(std::move(overlay));
    auto opened = qcow2::Image::open(dev);
    REQUIRE(opened);
    qcow2::Image& img = **opened;
    rebase::ClusterAllocator allocator(img);
    rebase::OverlayWriter writer(img, allocator);
    WindowCompare compare(img, rebase::Sides{old_chain, new_chain, in_chain}, writer, compress, r.stats);
    const uint64_t end = *util::align_up(img.geometry().virtual_size, img.geometry().cluster_size);
    for (uint64_t start = 0; start < end; start += WindowCompare::window_bytes) {
        CAPTURE(start);
        auto ran = compare.run(start);
        REQUIRE_MESSAGE(ran, (ran ? std::string() : ran.error().message));
    }
    REQUIRE(writer.write_pending());
    io::Plan plan;
    REQUIRE(allocator.plan_refcounts(plan));
    REQUIRE(writer.plan_tables(plan));
    REQUIRE(io::execute(plan, *dev, nullptr));
    r.after = dev->bytes();
    r.compressed_clusters = writer.compressed_clusters();
    return r;
}

// The guest's view did not change, and the overlay is still consistent.
void check_same_guest(const Rebased& r, formats::Chain* old_chain, formats::Chain* new_chain)
{
    auto before = guest_view(r.before, old_chain);
    auto after = guest_view(r.after, new_chain);
    REQUIRE(before.size() == after.size());
    auto diff = std::mismatch(before.begin(), before.end(), after.begin());
    INFO("first difference at guest offset ", diff.first - before.begin());
    CHECK(diff.first == before.end());
    CHECK(test::kinds(test::analyse(r.after).report) == "");
}

void write_qcow2(const std::string& path, test::Qcow2Builder& b) { test::write_file(path, b.bytes()); }

} // namespace

TEST_CASE("equal backings: everything is compared, nothing is written")
{
    static_assert(WindowCompare::window_bytes % (2 * MiB) == 0, "a whole number of the largest clusters");
    test::TempDir dir;
    const auto p = pattern(4 * MiB, 1);
    test::write_file(dir.file("old.raw"), p);
    test::write_file(dir.file("new.raw"), p);
    auto old_chain = open_chain(dir.file("old.raw"));
    auto new_chain = open_chain(dir.file("new.raw"));
    test::Qcow2Builder b;
    b.write_cluster(7, 0x77);
    Rebased r = rebase_windows(b.bytes(), &old_chain, &new_chain);
    CHECK(r.after == r.before);
    CHECK(r.stats.bytes_compared == 63 * cs); // all but the overlay's own cluster
    CHECK(r.stats.subclusters_written == 0);
    CHECK(r.stats.zero_subclusters == 0);
    CHECK(r.stats.bytes_skipped_in_chain == 0);
    check_same_guest(r, &old_chain, &new_chain);
}

TEST_CASE("different bytes: the clusters that differ get the old chain's data")
{
    test::TempDir dir;
    const auto p = pattern(4 * MiB, 2);
    auto q = p;
    for (uint64_t at : {uint64_t{0}, 5 * cs + 1000, 6 * cs + 10, 20 * cs + cs - 1, 4 * MiB - 1})
        q[at] ^= 0xff;
    test::write_file(dir.file("old.raw"), p);
    test::write_file(dir.file("new.raw"), q);
    auto old_chain = open_chain(dir.file("old.raw"));
    auto new_chain = open_chain(dir.file("new.raw"));
    test::Qcow2Builder b;
    b.write_cluster(5, 0x55);                 // the overlay's own data: left alone
    b.set_l2_entry(6, qcow2::oflag_zero);     // the overlay's own zeros: left alone
    Rebased r = rebase_windows(b.bytes(), &old_chain, &new_chain);
    CHECK(layout(r.after, 0, 4 * MiB, cs) == expect(64, {{0, 'd'}, {5, 'd'}, {6, 'z'}, {20, 'd'}, {63, 'd'}}));
    CHECK(r.stats.subclusters_written == 3);
    CHECK(r.stats.zero_subclusters == 0);
    CHECK(r.stats.bytes_compared == 62 * cs);
    check_same_guest(r, &old_chain, &new_chain);
    // The overlay's own clusters kept their content.
    auto view = guest_view(r.after, &new_chain);
    CHECK(view[5 * cs + 1000] == 0x55);
    CHECK(view[6 * cs + 10] == 0);
}

TEST_CASE("zero ranges are known from block status and decided without comparing")
{
    // Guest clusters, old chain / new backing:
    //   0 unallocated / unallocated   nothing
    //   1 data 0x11   / unallocated   the old data
    //   2 data zeros  / data 0x22     a zero cluster (compared)
    //   3 data 0x33   / data 0x33     nothing (compared)
    //   4 zero flag   / data 0x44     a zero cluster
    //   6 unallocated / data zeros    nothing
    //   7 unallocated / data 0x77     a zero cluster
    test::TempDir dir;
    test::Qcow2Builder old_b;
    old_b.write_cluster(1, 0x11);
    old_b.write_cluster(2, 0x00);
    old_b.write_cluster(3, 0x33);
    old_b.set_l2_entry(4, qcow2::oflag_zero);
    write_qcow2(dir.file("old.qcow2"), old_b);
    test::Qcow2Builder new_b;
    new_b.write_cluster(2, 0x22);
    new_b.write_cluster(3, 0x33);
    new_b.write_cluster(4, 0x44);
    new_b.write_cluster(6, 0x00);
    new_b.write_cluster(7, 0x77);
    write_qcow2(dir.file("new.qcow2"), new_b);
    auto old_chain = open_chain(dir.file("old.qcow2"));
    auto new_chain = open_chain(dir.file("new.qcow2"));

    SUBCASE("version 3: zero clusters")
    {
        Rebased r = rebase_windows(test::Qcow2Builder().bytes(), &old_chain, &new_chain);
        CHECK(layout(r.after, 0, 4 * MiB, cs) == expect(64, {{1, 'd'}, {2, 'z'}, {4, 'z'}, {7, 'z'}}));
        CHECK(r.stats.bytes_compared == 2 * cs);
        CHECK(r.stats.subclusters_written == 1);
        CHECK(r.stats.zero_subclusters == 3);
        check_same_guest(r, &old_chain, &new_chain);
    }
    SUBCASE("version 2 has no zero clusters: the zeros are written as data")
    {
        test::BuilderOptions o;
        o.version = 2;
        Rebased r = rebase_windows(test::Qcow2Builder(o).bytes(), &old_chain, &new_chain);
        CHECK(layout(r.after, 0, 4 * MiB, cs) == expect(64, {{1, 'd'}, {2, 'd'}, {4, 'd'}, {7, 'd'}}));
        CHECK(r.stats.subclusters_written == 4);
        CHECK(r.stats.zero_subclusters == 0);
        check_same_guest(r, &old_chain, &new_chain);
    }
    SUBCASE("no old backing: zeros wherever the new backing reads otherwise")
    {
        Rebased r = rebase_windows(test::Qcow2Builder().bytes(), nullptr, &new_chain);
        CHECK(layout(r.after, 0, 4 * MiB, cs) == expect(64, {{2, 'z'}, {3, 'z'}, {4, 'z'}, {7, 'z'}}));
        CHECK(r.stats.bytes_compared == 0);
        CHECK(r.stats.subclusters_written == 0);
        check_same_guest(r, nullptr, &new_chain);
    }
    SUBCASE("flattening: the old chain's data, and nothing for its zeros")
    {
        Rebased r = rebase_windows(test::Qcow2Builder().bytes(), &old_chain, nullptr);
        CHECK(layout(r.after, 0, 4 * MiB, cs) == expect(64, {{1, 'd'}, {3, 'd'}}));
        CHECK(r.stats.bytes_compared == 0);
        CHECK(r.stats.subclusters_written == 2);
        check_same_guest(r, &old_chain, nullptr);
    }
    SUBCASE("neither side: nothing to do")
    {
        Rebased r = rebase_windows(test::Qcow2Builder().bytes(), nullptr, nullptr);
        CHECK(r.after == r.before);
        CHECK(r.stats.bytes_compared == 0);
    }
}

TEST_CASE("extended L2: differences are written per subcluster")
{
    test::TempDir dir;
    const auto p_base = pattern(4 * MiB, 3);
    auto p = p_base;
    // Old reads zeros in guest cluster 8's subcluster 4.
    const auto sc4 = p.begin() + static_cast<ptrdiff_t>(8 * cs + 4 * scs);
    std::fill(sc4, sc4 + static_cast<ptrdiff_t>(scs), 0);
    auto q = p_base;
    for (uint64_t at : {uint64_t{5000},        // cluster 0, subcluster 2
                        3 * cs + scs - 1,      // cluster 3, subcluster 0 (its last byte)
                        3 * cs + scs,          // cluster 3, subcluster 1 (its first byte)
                        10 * cs + 3 * scs,     // cluster 10, subcluster 3: the overlay's own
                        10 * cs + 20 * scs + 7, // cluster 10, subcluster 20
                        4 * MiB - 1})          // cluster 63, subcluster 31
        q[at] ^= 0x80;
    test::write_file(dir.file("old.raw"), p);
    test::write_file(dir.file("new.raw"), q);
    auto old_chain = open_chain(dir.file("old.raw"));
    auto new_chain = open_chain(dir.file("new.raw"));

    test::BuilderOptions o;
    o.extended_l2 = true;
    test::Qcow2Builder b(o);
    // Cluster 10 holds subclusters 0-15 itself; the rest come from the backing.
    const uint64_t host10 = b.write_cluster(10, 0x5a);
    b.set_l2_entry(10, host10 | qcow2::oflag_copied, 0x0000ffff);
    Rebased r = rebase_windows(b.bytes(), &old_chain, &new_chain);

    CHECK(layout(r.after, 0, cs, scs) == expect(32, {{2, 'd'}}));
    CHECK(layout(r.after, 3 * cs, 4 * cs, scs) == expect(32, {{0, 'd'}, {1, 'd'}}));
    CHECK(layout(r.after, 8 * cs, 9 * cs, scs) == expect(32, {{4, 'z'}}));
    std::string c10(32, '.');
    std::fill(c10.begin(), c10.begin() + 16, 'd');
    c10[20] = 'd';
    CHECK(layout(r.after, 10 * cs, 11 * cs, scs) == c10);
    CHECK(layout(r.after, 63 * cs, 64 * cs, scs) == expect(32, {{31, 'd'}}));
    for (uint64_t c : {1u, 2u, 9u, 11u, 62u})
        CHECK(layout(r.after, c * cs, (c + 1) * cs, scs) == std::string(32, '.'));
    CHECK(r.stats.subclusters_written == 5);
    CHECK(r.stats.zero_subclusters == 1);
    CHECK(r.stats.bytes_compared == (64 * 32 - 16) * scs);
    // Cluster 10 was the overlay's alone: subcluster 20 went into it.
    auto img = open_image(r.after);
    auto st = img->range_status(10 * cs + 20 * scs, scs);
    REQUIRE(st);
    CHECK(st->host_offset == host10 + 20 * scs);
    check_same_guest(r, &old_chain, &new_chain);
}

TEST_CASE("the new backing inside the old chain: what it answers there is not read")
{
    // Old chain: mid.qcow2 -> base.raw; the new backing is base.raw.
    test::TempDir dir;
    const auto base = pattern(4 * MiB, 4);
    test::write_file(dir.file("base.raw"), base);

    SUBCASE("mid holds data and zeros of its own")
    {
        test::BuilderOptions o;
        o.backing_name = "base.raw";
        o.backing_format = "raw";
        test::Qcow2Builder mid(o);
        mid.write_cluster(2, 0x22);
        mid.set_l2_entry(5, qcow2::oflag_zero);
        write_qcow2(dir.file("mid.qcow2"), mid);
        auto old_chain = open_chain(dir.file("mid.qcow2"));
        auto new_chain = open_chain(dir.file("base.raw"), formats::Format::raw);
        REQUIRE(old_chain.depth() == 2);
        test::Qcow2Builder b;
        b.write_cluster(9, 0x99);
        Rebased r = rebase_windows(b.bytes(), &old_chain, &new_chain, 1);
        CHECK(layout(r.after, 0, 4 * MiB, cs) == expect(64, {{2, 'd'}, {5, 'z'}, {9, 'd'}}));
        CHECK(r.stats.bytes_skipped_in_chain == 61 * cs);
        CHECK(r.stats.bytes_compared == cs);
        CHECK(r.stats.subclusters_written == 1);
        CHECK(r.stats.zero_subclusters == 1);
        check_same_guest(r, &old_chain, &new_chain);
    }
    SUBCASE("past the end of a shorter old chain it reads zeros, whatever the new backing holds")
    {
        test::BuilderOptions o;
        o.size = 1 * MiB;
        o.backing_name = "base.raw";
        o.backing_format = "raw";
        test::Qcow2Builder small(o);
        write_qcow2(dir.file("small.qcow2"), small);
        auto old_chain = open_chain(dir.file("small.qcow2"));
        auto new_chain = open_chain(dir.file("base.raw"), formats::Format::raw);
        Rebased r = rebase_windows(test::Qcow2Builder().bytes(), &old_chain, &new_chain, 1);
        CHECK(layout(r.after, 0, 4 * MiB, cs) == std::string(16, '.') + std::string(48, 'z'));
        CHECK(r.stats.bytes_skipped_in_chain == 1 * MiB);
        CHECK(r.stats.bytes_compared == 0);
        CHECK(r.stats.zero_subclusters == 48);
        check_same_guest(r, &old_chain, &new_chain);
    }
    SUBCASE("a subcluster partly answered above the new backing is compared whole")
    {
        // mid has 512-byte clusters; the overlay 2 KiB subclusters. Guest
        // 512-1023 is mid's data, 3072-3583 mid's zeros, the rest base's.
        test::BuilderOptions o;
        o.cluster_bits = 9;
        o.backing_name = "base.raw";
        o.backing_format = "raw";
        test::Qcow2Builder mid(o);
        mid.write_cluster(1, 0x11);
        mid.write_cluster(6, 0x00);
        write_qcow2(dir.file("mid.qcow2"), mid);
        auto old_chain = open_chain(dir.file("mid.qcow2"));
        auto new_chain = open_chain(dir.file("base.raw"), formats::Format::raw);
        test::BuilderOptions x;
        x.extended_l2 = true;
        Rebased r = rebase_windows(test::Qcow2Builder(x).bytes(), &old_chain, &new_chain, 1);
        CHECK(layout(r.after, 0, cs, scs) == expect(32, {{0, 'd'}, {1, 'd'}}));
        CHECK(layout(r.after, cs, 4 * MiB, cs) == std::string(63, '.'));
        CHECK(r.stats.bytes_compared == 2 * scs);
        CHECK(r.stats.bytes_skipped_in_chain == 4 * MiB - 2 * scs);
        CHECK(r.stats.subclusters_written == 2);
        check_same_guest(r, &old_chain, &new_chain);
        auto view = guest_view(r.after, &new_chain);
        CHECK(view[511] == base[511]);
        CHECK(view[512] == 0x11);
        CHECK(view[3072] == 0);
        CHECK(view[3584] == base[3584]);
    }
}

TEST_CASE("several windows, and a disk that ends inside a cluster")
{
    test::TempDir dir;
    for (uint64_t size : {10 * MiB, 10 * MiB - 3 * 512}) {
        CAPTURE(size);
        const auto p = pattern(size, 5);
        auto q = p;
        const std::vector<uint64_t> changed = {4 * MiB - 1, 4 * MiB, 8 * MiB + 1, size - 1};
        for (uint64_t at : changed)
            q[at] ^= 0x01;
        test::write_file(dir.file("old.raw"), p);
        test::write_file(dir.file("new.raw"), q);
        auto old_chain = open_chain(dir.file("old.raw"));
        auto new_chain = open_chain(dir.file("new.raw"));
        test::BuilderOptions o;
        o.size = size;
        Rebased r = rebase_windows(test::Qcow2Builder(o).bytes(), &old_chain, &new_chain);
        CHECK(layout(r.after, 0, 160 * cs, cs) == expect(160, {{63, 'd'}, {64, 'd'}, {128, 'd'}, {159, 'd'}}));
        CHECK(r.stats.subclusters_written == 4);
        CHECK(r.stats.bytes_compared == 160 * cs);
        check_same_guest(r, &old_chain, &new_chain);
    }
}

TEST_CASE("an old cluster split between two images is gathered whole")
{
    // mid.qcow2 has 32 KiB clusters: the overlay's first 64 KiB cluster is
    // half mid's data, half its backing's.
    test::TempDir dir;
    const auto base = pattern(4 * MiB, 6);
    test::write_file(dir.file("base.raw"), base);
    test::BuilderOptions o;
    o.cluster_bits = 15;
    o.backing_name = "base.raw";
    o.backing_format = "raw";
    test::Qcow2Builder mid(o);
    mid.write_cluster(0, 0x11);
    mid.write_cluster(5, 0x00); // guest 160-192 KiB: the second half of overlay cluster 2 reads zeros
    write_qcow2(dir.file("mid.qcow2"), mid);
    auto old_chain = open_chain(dir.file("mid.qcow2"));
    Rebased r = rebase_windows(test::Qcow2Builder().bytes(), &old_chain, nullptr);
    CHECK(layout(r.after, 0, 4 * MiB, cs) == std::string(64, 'd'));
    CHECK(r.stats.subclusters_written == 64);
    check_same_guest(r, &old_chain, nullptr);
    auto view = guest_view(r.after, nullptr);
    CHECK(view[0] == 0x11);
    CHECK(view[32 * KiB - 1] == 0x11);
    CHECK(view[32 * KiB] == base[32 * KiB]);
    CHECK(view[2 * cs + 32 * KiB] == 0);
}

TEST_CASE("compressed data in the old chain is read, across windows")
{
    // Compressed clusters cannot be mapped: they go through the window's
    // buffer, which the next window reuses.
    test::TempDir dir;
    test::BuilderOptions o;
    o.size = 8 * MiB;
    test::Qcow2Builder old_b(o);
    old_b.write_compressed_cluster(3, 0x33);
    old_b.write_compressed_cluster(4, 0x00);
    old_b.write_compressed_cluster(64 + 3, 0x44);
    old_b.write_cluster(64 + 4, 0x45);
    write_qcow2(dir.file("old.qcow2"), old_b);
    auto old_chain = open_chain(dir.file("old.qcow2"));
    Rebased r = rebase_windows(test::Qcow2Builder(o).bytes(), &old_chain, nullptr);
    CHECK(layout(r.after, 0, 8 * MiB, cs) == expect(128, {{3, 'd'}, {67, 'd'}, {68, 'd'}}));
    CHECK(r.stats.subclusters_written == 3);
    check_same_guest(r, &old_chain, nullptr);
    auto view = guest_view(r.after, nullptr);
    CHECK(view[3 * cs] == 0x33);
    CHECK(view[67 * cs + cs - 1] == 0x44);
    CHECK(view[68 * cs] == 0x45);
}

TEST_CASE("Compress::yes compresses clusters the overlay leaves wholly to the backing")
{
    test::TempDir dir;
    auto p = pattern(4 * MiB, 7, Kind::compressible);
    const auto noise = pattern(cs, 8, Kind::noise);
    std::copy(noise.begin(), noise.end(), p.begin() + static_cast<ptrdiff_t>(7 * cs)); // does not compress
    auto q = p;
    for (uint64_t at : {uint64_t{100}, cs + 100, 7 * cs + 100, 9 * cs + 5 * scs})
        q[at] ^= 0x40;
    test::write_file(dir.file("old.raw"), p);
    test::write_file(dir.file("new.raw"), q);
    auto old_chain = open_chain(dir.file("old.raw"));
    auto new_chain = open_chain(dir.file("new.raw"));

    SUBCASE("standard clusters")
    {
        Rebased r = rebase_windows(test::Qcow2Builder().bytes(), &old_chain, &new_chain, SIZE_MAX, Compress::yes);
        CHECK(layout(r.after, 0, 4 * MiB, cs) == expect(64, {{0, 'c'}, {1, 'c'}, {7, 'd'}, {9, 'c'}}));
        CHECK(r.compressed_clusters == 3);
        check_same_guest(r, &old_chain, &new_chain);
    }
    SUBCASE("a cluster partly the overlay's own is written per subcluster, not compressed")
    {
        test::BuilderOptions o;
        o.extended_l2 = true;
        test::Qcow2Builder b(o);
        const uint64_t host9 = b.write_cluster(9, 0x99);
        b.set_l2_entry(9, host9 | qcow2::oflag_copied, 0x1); // subcluster 0 only
        Rebased r = rebase_windows(b.bytes(), &old_chain, &new_chain, SIZE_MAX, Compress::yes);
        CHECK(layout(r.after, 9 * cs, 10 * cs, scs) == expect(32, {{0, 'd'}, {5, 'd'}}));
        CHECK(layout(r.after, 0, 2 * cs, cs) == "cc");
        CHECK(r.compressed_clusters == 2);
        check_same_guest(r, &old_chain, &new_chain);
    }
}

TEST_CASE("a fully allocated overlay needs nothing from either side")
{
    test::TempDir dir;
    test::write_file(dir.file("old.raw"), pattern(4 * MiB, 9));
    test::write_file(dir.file("new.raw"), pattern(4 * MiB, 10));
    auto old_chain = open_chain(dir.file("old.raw"));
    auto new_chain = open_chain(dir.file("new.raw"));
    test::Qcow2Builder b;
    for (uint64_t c = 0; c < 64; ++c) {
        if (c % 2)
            b.write_cluster(c, static_cast<uint8_t>(c));
        else
            b.set_l2_entry(c, qcow2::oflag_zero);
    }
    Rebased r = rebase_windows(b.bytes(), &old_chain, &new_chain);
    CHECK(r.after == r.before);
    CHECK(r.stats.bytes_compared == 0);
    CHECK(r.stats.subclusters_written == 0);
    CHECK(r.stats.zero_subclusters == 0);
}

TEST_CASE("a damaged overlay stops the window with its error")
{
    test::TempDir dir;
    test::write_file(dir.file("old.raw"), pattern(4 * MiB, 11));
    auto old_chain = open_chain(dir.file("old.raw"));
    test::Qcow2Builder b;
    const uint64_t host = b.write_cluster(1, 0x11);
    b.set_l2_entry(1, (host + 512) | qcow2::oflag_copied); // an unaligned data cluster
    auto dev = std::make_shared<io::MemoryDevice>(b.bytes());
    auto img = qcow2::Image::open(dev);
    REQUIRE(img);
    rebase::ClusterAllocator allocator(**img);
    rebase::OverlayWriter writer(**img, allocator);
    RebaseStats stats;
    WindowCompare compare(**img, rebase::Sides{&old_chain, nullptr, SIZE_MAX}, writer, Compress::no, stats);
    auto r = compare.run(0);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::corrupt_metadata);
    CHECK(dev->writes().empty());
}
