// The checker's fast path for ordinary data clusters
// (lib/check/data_cluster_counter.cpp): runs of standard L2 entries counted,
// the allocation figures they add, and every entry it leaves to the general
// path, unchanged. ClusterBits, declared beside it, too.
#include "check/data_cluster_counter.hpp"
#include "fixtures/check_fixture.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/l2_entry.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace imgmend;
using check::ClusterBits;
using check::ClusterCounts;
using check::DataClusterCounter;
using check::RunFigures;

namespace {

constexpr uint32_t bits = 16;
constexpr uint64_t cs = uint64_t{1} << bits;
constexpr uint64_t copied = qcow2::oflag_copied;
constexpr uint64_t width_max[] = {1, 3, 15, 255, 65535, 0xffffffffull, ~uint64_t{0}};

// An L2 table of big-endian standard entries.
struct Table {
    std::vector<uint8_t> bytes;
    explicit Table(std::vector<uint64_t> entries) : bytes(entries.size() * 8)
    {
        for (size_t i = 0; i < entries.size(); ++i)
            util::store_be64(bytes, i * 8, entries[i]);
    }
    size_t size() const { return bytes.size() / 8; }
    const uint8_t* data() const { return bytes.data(); }
};

// The entry of an ordinary data cluster at host cluster `k`, COPIED set.
uint64_t data(uint64_t k) { return (k * cs) | copied; }

// Counts over a file of `clusters` clusters whose first four (header,
// refcount table and block, L1 table) hold metadata.
struct Counting {
    ClusterCounts counts;
    ClusterBits metadata;
    Counting(uint32_t order, uint64_t clusters) : counts(order, clusters), metadata(clusters)
    {
        for (uint64_t k = 0; k < 4; ++k)
            metadata.set(k);
    }
    // Runs count_run over [first, end) of `table`, the whole table by default.
    size_t run(const Table& table, bool shareable, RunFigures& figures, size_t first = 0, size_t end = SIZE_MAX,
               uint32_t cluster_bits = bits)
    {
        DataClusterCounter counter(counts, metadata, shareable, cluster_bits);
        return counter.count_run(table.data(), first, std::min(end, table.size()), figures);
    }
    size_t run(const Table& table, bool shareable = false)
    {
        RunFigures figures;
        return run(table, shareable, figures);
    }
    std::vector<uint64_t> all() const
    {
        std::vector<uint64_t> out;
        for (uint64_t k = 0; k < counts.size(); ++k)
            out.push_back(counts.get(k));
        return out;
    }
};

} // namespace

TEST_CASE("ClusterBits: one bit per cluster, across words, kept when resized")
{
    ClusterBits b(130);
    CHECK(b.size() == 130);
    for (uint64_t k = 0; k < 130; ++k)
        REQUIRE_FALSE(b.test(k));
    for (uint64_t k : {0u, 63u, 64u, 129u})
        b.set(k);
    for (uint64_t k = 0; k < 130; ++k) {
        CAPTURE(k);
        CHECK(b.test(k) == (k == 0 || k == 63 || k == 64 || k == 129));
    }
    b.set(63); // setting twice is setting
    CHECK(b.test(63));
    CHECK(b.words()[0] == (uint64_t{1} | uint64_t{1} << 63));
    CHECK(b.words()[1] == 1u);
    b.resize(300);
    CHECK(b.size() == 300);
    CHECK(b.test(129));
    for (uint64_t k = 130; k < 300; ++k)
        REQUIRE_FALSE(b.test(k));
    b.set(299);
    CHECK(b.test(299));
    ClusterBits empty(0);
    CHECK(empty.size() == 0);
}

TEST_CASE("a run of ordinary entries is counted in full, with its figures")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        Counting c(order, 16);
        // Unallocated entries (0) and zero clusters without a host cluster
        // (the zero flag alone) are skipped; a preallocated zero cluster
        // counts like data.
        Table t({data(4), 0, data(5), qcow2::oflag_zero, data(6) | qcow2::oflag_zero, data(7), 0});
        RunFigures f;
        CHECK(c.run(t, false, f) == t.size());
        CHECK(c.all() == std::vector<uint64_t>{0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0});
        CHECK(f.allocated == 4);
        CHECK(f.fragmented == 0);
        CHECK(f.next_contiguous == 8 * cs);
        CHECK(f.all_copied);
    }
}

TEST_CASE("the figures: fragmentation, continuation from an earlier run, COPIED")
{
    Counting c(4, 16);
    SUBCASE("each jump away from the next host cluster is a fragment")
    {
        Table t({data(4), data(5), data(9), data(6), data(7), data(12)});
        RunFigures f;
        CHECK(c.run(t, false, f) == 6);
        CHECK(f.allocated == 6);
        CHECK(f.fragmented == 3); // 5 -> 9, 9 -> 6, 7 -> 12
        CHECK(f.next_contiguous == 13 * cs);
    }
    SUBCASE("figures add to what the caller had, and the run continues its host position")
    {
        Table t({data(4), data(5)});
        RunFigures f;
        f.allocated = 10;
        f.fragmented = 2;
        f.next_contiguous = 4 * cs; // the previous cluster was 3: no fragment
        CHECK(c.run(t, false, f) == 2);
        CHECK(f.allocated == 12);
        CHECK(f.fragmented == 2);
        RunFigures g;
        g.next_contiguous = 9 * cs; // elsewhere: the first entry is a fragment
        Counting d(4, 16);
        CHECK(d.run(t, false, g) == 2);
        CHECK(g.fragmented == 1);
    }
    SUBCASE("one entry without COPIED clears all_copied, and it stays cleared")
    {
        Table t({data(4), 5 * cs, data(6)});
        RunFigures f;
        CHECK(c.run(t, false, f) == 3);
        CHECK_FALSE(f.all_copied);
        Table more({data(8)});
        CHECK(c.run(more, false, f) == 1);
        CHECK_FALSE(f.all_copied);
        CHECK(f.allocated == 4);
    }
    SUBCASE("skipped entries do not count as allocated or move the host position")
    {
        Table t({0, qcow2::oflag_zero, 0});
        RunFigures f;
        f.next_contiguous = 5 * cs;
        CHECK(c.run(t, false, f) == 3);
        CHECK(f.allocated == 0);
        CHECK(f.next_contiguous == 5 * cs);
        CHECK(f.all_copied);
    }
}

TEST_CASE("only [first, end) is looked at")
{
    Counting c(4, 16);
    Table t({data(4), data(5), data(6), data(7), qcow2::oflag_compressed});
    RunFigures f;
    CHECK(c.run(t, false, f, 1, 3) == 3);
    CHECK(c.all() == std::vector<uint64_t>{0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    CHECK(f.allocated == 2);
    CHECK(c.run(t, false, f, 2, 2) == 2); // an empty range
    CHECK(f.allocated == 2);
}

TEST_CASE("entries left to the general path stop the run there, unchanged")
{
    struct Row {
        const char* what;
        uint64_t raw;
    };
    const Row rows[] = {
        {"compressed", qcow2::oflag_compressed | (8 * cs + 512)},
        {"compressed at an aligned offset", qcow2::oflag_compressed | (8 * cs)},
        {"reserved bit 1", data(8) | 0x2},
        {"reserved bit 8", data(8) | 0x100},
        {"reserved bit 56", data(8) | 1ull << 56},
        {"reserved bit 61", data(8) | 1ull << 61},
        {"unaligned", data(8) + 512},
        {"unaligned by the last sector", data(8) + cs - 512},
        {"unaligned preallocated zero", (data(8) + 512) | qcow2::oflag_zero},
        {"the first cluster past the end of the file", data(16)},
        {"far past the end of the file", (qcow2::offset_mask & ~(cs - 1)) | copied},
        {"a metadata cluster", data(2)},
        {"offset 0 with COPIED (the header's cluster)", copied},
        {"offset 0 with COPIED and the zero flag", copied | qcow2::oflag_zero},
        {"a second user without snapshots", data(4)},
    };
    for (uint32_t order = 0; order <= 6; ++order) {
        for (const Row& row : rows) {
            CAPTURE(order);
            CAPTURE(row.what);
            Counting c(order, 16);
            Table t({data(4), data(5), row.raw, data(6)});
            RunFigures f;
            CHECK(c.run(t, false, f) == 2);
            CHECK(c.all() == std::vector<uint64_t>{0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
            CHECK(f.allocated == 2);
            CHECK(f.next_contiguous == 6 * cs);
            // Asked again from there, it declines again: nothing was consumed.
            CHECK(c.run(t, false, f, 2) == 2);
            CHECK(f.allocated == 2);
            // The entry after it is counted from the next index.
            CHECK(c.run(t, false, f, 3) == 4);
            CHECK(c.counts.get(6) == 1);
        }
    }
}

TEST_CASE("a second user of a data cluster")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        SUBCASE("without snapshots it is declined, within a run and across runs")
        {
            Counting c(order, 16);
            CHECK(c.run(Table({data(4), data(5), data(4)})) == 2);
            CHECK(c.counts.get(4) == 1);
            CHECK(c.run(Table({data(5)})) == 0);
            CHECK(c.counts.get(5) == 1);
        }
        SUBCASE("with snapshots it is counted, up to what the width holds")
        {
            Counting c(order, 16);
            CHECK(c.run(Table({data(4), data(4)}), true) == (order == 0 ? 1u : 2u));
            CHECK(c.counts.get(4) == (order == 0 ? 1u : 2u));
        }
    }
}

TEST_CASE("counts near the width's maximum are left to the general path")
{
    // Byte-stored widths: the fast path stops one below the escape value, so
    // the general path (which saturates and reports overflow) sees 254 and up.
    for (uint32_t order = 3; order <= 6; ++order) {
        CAPTURE(order);
        Counting c(order, 16);
        c.counts.set(4, 253);
        CHECK(c.run(Table({data(4), data(4)}), true) == 1);
        CHECK(c.counts.get(4) == 254);
        const uint64_t high = order == 3 ? 255 : 300; // the maximum, or in the side map
        c.counts.set(5, high);
        CHECK(c.run(Table({data(5)}), true) == 0);
        CHECK(c.counts.get(5) == high);
    }
    // Packed widths: it counts up to the maximum itself and stops there.
    for (uint32_t order = 0; order <= 2; ++order) {
        CAPTURE(order);
        Counting c(order, 16);
        std::vector<uint64_t> entries(20, data(4));
        CHECK(c.run(Table(entries), true) == width_max[order]);
        CHECK(c.counts.get(4) == width_max[order]);
        CHECK(c.counts.get(5) == 0);
    }
}

TEST_CASE("the cluster size decides what is aligned")
{
    SUBCASE("512-byte clusters: every sector offset is a cluster")
    {
        Counting c(4, 64);
        Table t({(9 * 512) | copied, (10 * 512) | copied});
        RunFigures f;
        CHECK(c.run(t, false, f, 0, SIZE_MAX, 9) == 2);
        CHECK(c.counts.get(9) == 1);
        CHECK(c.counts.get(10) == 1);
        CHECK(f.next_contiguous == 11 * 512);
    }
    SUBCASE("2 MiB clusters: a 64 KiB boundary is not")
    {
        const uint64_t big = uint64_t{2} << 20;
        Counting c(4, 16);
        Table t({(5 * big) | copied, (6 * big + 65536) | copied});
        RunFigures f;
        CHECK(c.run(t, false, f, 0, SIZE_MAX, 21) == 1);
        CHECK(c.counts.get(5) == 1);
        CHECK(c.counts.get(6) == 0);
        CHECK(f.next_contiguous == 6 * big);
    }
}

TEST_CASE("clusters the counts grew by past the end of the file are still past it")
{
    // The checker grows its counts when a reference ends less than a
    // cluster past the end of the file (a compressed stream), but an
    // ordinary data cluster there lies wholly beyond the file.
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        Counting c(order, 16);
        DataClusterCounter counter(c.counts, c.metadata, true, bits);
        c.counts.grow(17);
        c.metadata.resize(17);
        c.counts.set(16, 1); // the compressed stream's reference
        Table t({data(4), data(16)});
        RunFigures f;
        CHECK(counter.count_run(t.data(), 0, t.size(), f) == 1);
        CHECK(c.counts.get(16) == 1);
        CHECK(f.allocated == 1);
    }
}

TEST_CASE("check: a data cluster past the end of the file is reported with snapshots too")
{
    // A compressed stream in the last cluster runs 512 bytes past the end
    // of the file; the next L2 entry names the cluster after the file.
    // Without snapshots the fast path declines the second user; with one it
    // must decline the cluster as beyond the end of the file.
    for (bool with_snapshot : {false, true}) {
        CAPTURE(with_snapshot);
        test::BaseImage base;
        if (with_snapshot)
            base.b.take_snapshot("1", "s1");
        base.b.allocate_cluster();
        auto bytes = base.b.bytes();
        const uint64_t file_size = bytes.size();
        const uint32_t shift = 62 - (bits - 8);
        test::set_u64(bytes, base.entry(1), qcow2::oflag_compressed | (file_size - 512) | (uint64_t{1} << shift));
        test::set_u64(bytes, base.entry(2), file_size | (with_snapshot ? 0 : copied));
        auto state = test::analyse(bytes);
        INFO("findings: ", test::kinds(state.report));
        bool reported = false;
        for (const check::Finding& f : test::findings_of(state.report, check::FindingKind::beyond_end_of_file))
            reported |= f.host_offset == file_size && f.l2_index == 2u;
        CHECK(reported);
    }
}
