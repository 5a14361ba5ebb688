#include "qcow2/geometry.hpp"

#include <doctest/doctest.h>

using namespace imgmend;

namespace {

qcow2::Header header(uint32_t cluster_bits, uint32_t refcount_order, bool extended)
{
    qcow2::Header h;
    h.cluster_bits = cluster_bits;
    h.refcount_order = refcount_order;
    h.size = 123456789;
    if (extended)
        h.incompatible_features |= qcow2::incompat_extended_l2;
    return h;
}

} // namespace

TEST_CASE("make_geometry for standard 64 KiB clusters")
{
    auto g = qcow2::make_geometry(header(16, 4, false));
    CHECK(g.cluster_bits == 16);
    CHECK(g.cluster_size == 65536);
    CHECK(g.l2_entry_bytes == 8);
    CHECK(g.l2_entries == 8192);
    CHECK(g.subclusters == 1);
    CHECK(g.subcluster_size == 65536);
    CHECK(g.csize_shift == 54);
    CHECK(g.csize_mask == 0xff);
    CHECK(g.refcount_order == 4);
    CHECK(g.refcount_bits == 16);
    CHECK(g.refblock_entries == 32768);
    CHECK(g.virtual_size == 123456789);
    CHECK(g.bytes_per_l2() == 512ull << 20);
    CHECK(g.bytes_per_refblock() == 2ull << 30);
}

TEST_CASE("make_geometry for extended L2 entries")
{
    auto g = qcow2::make_geometry(header(14, 4, true));
    CHECK(g.l2_entry_bytes == 16);
    CHECK(g.l2_entries == 1024);
    CHECK(g.subclusters == 32);
    CHECK(g.subcluster_size == 512);
    CHECK(g.bytes_per_l2() == 16ull << 20);
}

TEST_CASE("make_geometry follows the specification's formulas for every size and width")
{
    for (uint32_t cb = 9; cb <= 21; ++cb) {
        for (uint32_t order = 0; order <= 6; ++order) {
            for (bool extended : {false, true}) {
                if (extended && cb < 14)
                    continue;
                CAPTURE(cb);
                CAPTURE(order);
                CAPTURE(extended);
                auto g = qcow2::make_geometry(header(cb, order, extended));
                uint64_t cs = uint64_t{1} << cb;
                CHECK(g.cluster_size == cs);
                // "l2_entries = cluster_size / sizeof(uint64_t)", halved with extended L2.
                CHECK(g.l2_entries == cs / (extended ? 16 : 8));
                CHECK(g.subcluster_size * g.subclusters == cs);
                // "x = 62 - (cluster_bits - 8)" and the sector count fills bits x..61.
                CHECK(g.csize_shift == 62 - (cb - 8));
                CHECK(g.csize_mask == (uint64_t{1} << (cb - 8)) - 1);
                CHECK(g.csize_shift + (64 - __builtin_clzll(g.csize_mask)) == 62);
                // "refcount_block_entries = cluster_size * 8 / refcount_bits"
                CHECK(g.refcount_bits == 1u << order);
                CHECK(g.refblock_entries * g.refcount_bits == cs * 8);
            }
        }
    }
}
