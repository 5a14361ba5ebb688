#include "qcow2/l2_entry.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;
using qcow2::L2Entry;
using qcow2::SubclusterKind;

namespace doctest {
template <>
struct StringMaker<SubclusterKind> {
    static String convert(SubclusterKind k)
    {
        static const char* names[] = {"unallocated_plain", "unallocated_alloc", "zero_plain", "zero_alloc",
                                      "normal",            "compressed",        "invalid"};
        return names[static_cast<int>(k)];
    }
};
} // namespace doctest

namespace {

qcow2::Geometry geometry(uint32_t cluster_bits, bool extended)
{
    qcow2::Header h;
    h.cluster_bits = cluster_bits;
    if (extended)
        h.incompatible_features |= qcow2::incompat_extended_l2;
    return qcow2::make_geometry(h);
}

constexpr uint64_t host = 0x50000;

uint64_t alloc_bit(uint32_t sc) { return uint64_t{1} << sc; }
uint64_t zero_bit(uint32_t sc) { return uint64_t{1} << (32 + sc); }

} // namespace

TEST_CASE("L2Entry field accessors")
{
    L2Entry e{0x8000000000050000ull};
    CHECK(e.copied());
    CHECK_FALSE(e.compressed());
    CHECK(e.host_offset() == 0x50000);

    // Bits 9-55 only: flags and reserved bits are not part of the offset.
    L2Entry all{~uint64_t{0} & ~qcow2::oflag_compressed};
    CHECK(all.host_offset() == 0x00fffffffffffe00ull);
    CHECK(L2Entry{0x0100000000000000ull | 0x1ff}.host_offset() == 0);
    CHECK(L2Entry{qcow2::oflag_compressed}.compressed());
}

TEST_CASE("subcluster_kind for standard L2 entries")
{
    auto g = geometry(16, false);
    struct Row {
        const char* name;
        uint64_t raw;
        SubclusterKind expected;
    };
    const Row rows[] = {
        {"zero entry", 0, SubclusterKind::unallocated_plain},
        {"COPIED flag alone", qcow2::oflag_copied, SubclusterKind::unallocated_plain},
        {"data", host, SubclusterKind::normal},
        {"data, COPIED", host | qcow2::oflag_copied, SubclusterKind::normal},
        {"zero flag without offset", qcow2::oflag_zero, SubclusterKind::zero_plain},
        {"zero flag with offset", host | qcow2::oflag_zero, SubclusterKind::zero_alloc},
        {"zero flag with offset, COPIED", host | qcow2::oflag_zero | qcow2::oflag_copied, SubclusterKind::zero_alloc},
        {"compressed", qcow2::oflag_compressed | 0x12345, SubclusterKind::compressed},
        {"compressed with bit 0", qcow2::oflag_compressed | 1, SubclusterKind::compressed},
        {"compressed, offset zero", qcow2::oflag_compressed, SubclusterKind::compressed},
        {"reserved bits only", 0x3f000000000001feull, SubclusterKind::unallocated_plain},
    };
    for (const Row& r : rows) {
        INFO(std::string(r.name));
        // Without subclusters the subcluster index does not matter.
        CHECK(qcow2::subcluster_kind(g, L2Entry{r.raw, 0}, 0) == r.expected);
        CHECK(qcow2::subcluster_kind(g, L2Entry{r.raw, ~uint64_t{0}}, 0) == r.expected);
    }
}

TEST_CASE("subcluster_kind for extended L2 entries")
{
    auto g = geometry(16, true);
    REQUIRE(g.subclusters == 32);

    SUBCASE("no host cluster")
    {
        for (uint32_t sc = 0; sc < 32; ++sc) {
            CAPTURE(sc);
            CHECK(qcow2::subcluster_kind(g, L2Entry{0, 0}, sc) == SubclusterKind::unallocated_plain);
            // Reads as zero only where its own zero bit is set.
            L2Entry z{0, zero_bit(3)};
            CHECK(qcow2::subcluster_kind(g, z, sc) ==
                  (sc == 3 ? SubclusterKind::zero_plain : SubclusterKind::unallocated_plain));
            // Any allocation bit without a host cluster is invalid, for every subcluster.
            CHECK(qcow2::subcluster_kind(g, L2Entry{0, alloc_bit(17)}, sc) == SubclusterKind::invalid);
        }
    }
    SUBCASE("with a host cluster")
    {
        L2Entry e{host | qcow2::oflag_copied, alloc_bit(0) | alloc_bit(5) | zero_bit(7) | zero_bit(31)};
        for (uint32_t sc = 0; sc < 32; ++sc) {
            CAPTURE(sc);
            SubclusterKind expected = SubclusterKind::unallocated_alloc;
            if (sc == 0 || sc == 5)
                expected = SubclusterKind::normal;
            if (sc == 7 || sc == 31)
                expected = SubclusterKind::zero_alloc;
            CHECK(qcow2::subcluster_kind(g, e, sc) == expected);
        }
    }
    SUBCASE("allocated and zero for the same subcluster is invalid for every subcluster")
    {
        L2Entry e{host, alloc_bit(2) | zero_bit(2) | alloc_bit(9)};
        for (uint32_t sc = 0; sc < 32; ++sc)
            CHECK(qcow2::subcluster_kind(g, e, sc) == SubclusterKind::invalid);
        // The two bits for different subclusters are fine.
        L2Entry ok{host, alloc_bit(2) | zero_bit(3)};
        CHECK(qcow2::subcluster_kind(g, ok, 2) == SubclusterKind::normal);
        CHECK(qcow2::subcluster_kind(g, ok, 3) == SubclusterKind::zero_alloc);
    }
    SUBCASE("all allocated, all zero")
    {
        L2Entry all{host, 0xffffffffull};
        L2Entry zeros{host, 0xffffffff00000000ull};
        L2Entry zeros_plain{0, 0xffffffff00000000ull};
        for (uint32_t sc = 0; sc < 32; ++sc) {
            CHECK(qcow2::subcluster_kind(g, all, sc) == SubclusterKind::normal);
            CHECK(qcow2::subcluster_kind(g, zeros, sc) == SubclusterKind::zero_alloc);
            CHECK(qcow2::subcluster_kind(g, zeros_plain, sc) == SubclusterKind::zero_plain);
        }
    }
    SUBCASE("bit 0 of the descriptor is not the zero flag with extended L2")
    {
        L2Entry e{host | qcow2::oflag_zero, 0xffffffffull};
        CHECK(qcow2::subcluster_kind(g, e, 4) == SubclusterKind::normal);
        L2Entry f{qcow2::oflag_zero, 0};
        CHECK(qcow2::subcluster_kind(g, f, 4) == SubclusterKind::unallocated_plain);
    }
    SUBCASE("compressed clusters have no subclusters")
    {
        L2Entry e{qcow2::oflag_compressed | 0x12345, 0};
        L2Entry contradicting{qcow2::oflag_compressed | 0x12345, alloc_bit(1) | zero_bit(1)};
        for (uint32_t sc : {0u, 13u, 31u}) {
            CHECK(qcow2::subcluster_kind(g, e, sc) == SubclusterKind::compressed);
            CHECK(qcow2::subcluster_kind(g, contradicting, sc) == SubclusterKind::compressed);
        }
    }
}

TEST_CASE("reads_from_backing and reads_as_zero classify every kind")
{
    struct Row {
        SubclusterKind kind;
        bool backing, zero;
    };
    const Row rows[] = {
        {SubclusterKind::unallocated_plain, true, false}, {SubclusterKind::unallocated_alloc, true, false},
        {SubclusterKind::zero_plain, false, true},        {SubclusterKind::zero_alloc, false, true},
        {SubclusterKind::normal, false, false},           {SubclusterKind::compressed, false, false},
        {SubclusterKind::invalid, false, false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.kind);
        CHECK(qcow2::reads_from_backing(r.kind) == r.backing);
        CHECK(qcow2::reads_as_zero(r.kind) == r.zero);
    }
}

TEST_CASE("compressed_descriptor for every cluster size from 512 bytes to 2 MiB")
{
    for (uint32_t cb = 9; cb <= 21; ++cb) {
        CAPTURE(cb);
        auto g = geometry(cb, false);
        // x = 62 - (cluster_bits - 8): the offset is bits 0..x-1, the count bits x..61.
        uint32_t x = 62 - (cb - 8);
        uint64_t count_max = (uint64_t{1} << (cb - 8)) - 1;
        uint64_t offset_max = (uint64_t{1} << x) - 1;

        struct Case {
            uint64_t offset, extra_sectors;
        };
        const Case cases[] = {
            {0x12345 * 512, 0},         // sector aligned, one sector
            {0x12345 * 512 + 77, 0},    // mid-sector start: the rest of that sector
            {0x200000 + 511, 1},        // last byte of a sector plus one more
            {0x70000 + 3, count_max},   // the most sectors the field holds
            {offset_max & ~uint64_t{511}, count_max / 2},
        };
        for (const Case& c : cases) {
            CAPTURE(c.offset);
            CAPTURE(c.extra_sectors);
            uint64_t raw = qcow2::oflag_compressed | qcow2::oflag_copied | (c.extra_sectors << x) | c.offset;
            auto d = qcow2::compressed_descriptor(g, raw);
            CHECK(d.offset == c.offset);
            // From the offset to the end of the last sector.
            CHECK(d.length == (c.extra_sectors + 1) * 512 - c.offset % 512);
        }
        // All offset bits set, no extra sectors: nothing spills between the fields.
        auto d = qcow2::compressed_descriptor(g, qcow2::oflag_compressed | offset_max);
        CHECK(d.offset == offset_max);
        CHECK(d.length == 1);
        // All count bits set, offset 0: at most two clusters of data.
        auto e = qcow2::compressed_descriptor(g, qcow2::oflag_compressed | (count_max << x));
        CHECK(e.offset == 0);
        CHECK(e.length == 2 * g.cluster_size);
    }
}

TEST_CASE("subcluster_kind with an external data file: offset 0 with COPIED is a real cluster")
{
    // Spec: "The offset may only be 0 with bit 63 set (indicating a host
    // cluster offset of 0) when an external data file is used."
    for (bool extended : {false, true}) {
        CAPTURE(extended);
        qcow2::Header h;
        h.cluster_bits = 16;
        h.incompatible_features = qcow2::incompat_data_file | (extended ? qcow2::incompat_extended_l2 : 0);
        auto g = qcow2::make_geometry(h);
        CHECK(g.data_file);
        uint64_t all = extended ? 0xffffffffull : 0;
        CHECK(qcow2::subcluster_kind(g, L2Entry{qcow2::oflag_copied, all}, 0) == SubclusterKind::normal);
        CHECK(qcow2::subcluster_kind(g, L2Entry{0, 0}, 0) == SubclusterKind::unallocated_plain);
        if (!extended)
            CHECK(qcow2::subcluster_kind(g, L2Entry{qcow2::oflag_copied | qcow2::oflag_zero, 0}, 0) ==
                  SubclusterKind::zero_alloc);
        // Without the data file bit the same entries are unallocated.
        auto plain = geometry(16, extended);
        CHECK_FALSE(plain.data_file);
        CHECK(qcow2::subcluster_kind(plain, L2Entry{qcow2::oflag_copied, 0}, 0) ==
              SubclusterKind::unallocated_plain);
    }
}
