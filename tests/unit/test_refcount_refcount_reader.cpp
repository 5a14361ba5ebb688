#include "fixtures/doctest_printers.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "io/memory_device.hpp"
#include "qcow2/image.hpp"
#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;
using util::Errc;

namespace {

qcow2::Header header(uint32_t cluster_bits, uint32_t order, uint64_t reftable, uint32_t reftable_clusters)
{
    qcow2::Header h;
    h.cluster_bits = cluster_bits;
    h.refcount_order = order;
    h.refcount_table_offset = reftable;
    h.refcount_table_clusters = reftable_clusters;
    return h;
}

} // namespace

TEST_CASE("read_refcount_table reads the big-endian table")
{
    std::vector<uint8_t> bytes(4 * 512, 0);
    util::store_be64(bytes, 512, 0x400);
    util::store_be64(bytes, 512 + 8, 0x1234567800ull);
    util::store_be64(bytes, 1024 - 8, 0x600);
    io::MemoryDevice dev(bytes);
    auto t = refcount::read_refcount_table(dev, header(9, 4, 512, 1));
    REQUIRE(t);
    REQUIRE(t->size() == 64);
    CHECK((*t)[0] == 0x400);
    CHECK((*t)[1] == 0x1234567800ull);
    CHECK((*t)[63] == 0x600);
    CHECK((*t)[2] == 0);
}

TEST_CASE("read_refcount_table reads only what lies inside the file")
{
    std::vector<uint8_t> bytes(512 + 100, 0);
    util::store_be64(bytes, 512 + 88, 0xa00);
    io::MemoryDevice dev(bytes);
    auto t = refcount::read_refcount_table(dev, header(9, 4, 512, 4));
    REQUIRE(t);
    CHECK(t->size() == 12); // whole entries within the 100 bytes
    CHECK(t->back() == 0xa00);

    auto beyond = refcount::read_refcount_table(dev, header(9, 4, 4096, 1));
    REQUIRE(beyond);
    CHECK(beyond->empty());
}

TEST_CASE("RefcountReader on built images, every refcount order")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        for (uint32_t cb : {9u, 16u}) {
            CAPTURE(order);
            CAPTURE(cb);
            test::Qcow2Builder b({.cluster_bits = cb, .size = 1 << 20, .refcount_order = order});
            b.write_cluster(0, 1);
            b.write_cluster(5, 1);
            uint64_t extra = b.allocate_cluster();
            b.set_refcount(extra / b.cluster_size(), refcount::max_refcount(order));
            auto bytes = b.bytes();
            uint64_t clusters = bytes.size() / b.cluster_size();
            auto dev = std::make_shared<io::MemoryDevice>(bytes);
            auto img = qcow2::Image::open(dev);
            REQUIRE(img);
            auto table = refcount::read_refcount_table(*dev, (*img)->header());
            REQUIRE(table);
            refcount::RefcountReader reader(*dev, (*img)->geometry(), std::move(*table));
            CHECK(reader.table()[0] == b.refblock_offset());
            for (uint64_t c = 0; c < clusters; ++c) {
                CAPTURE(c);
                auto rc = reader.refcount(c);
                REQUIRE(rc);
                CHECK(*rc == (c == extra / b.cluster_size() ? refcount::max_refcount(order) : 1));
            }
            // Past the allocated clusters, inside the block: zero.
            auto after = reader.refcount(clusters + 1);
            REQUIRE(after);
            CHECK(*after == 0);
            // Past the refcount table: zero as well.
            auto far = reader.refcount(uint64_t{1} << 40);
            REQUIRE(far);
            CHECK(*far == 0);
        }
    }
}

TEST_CASE("RefcountReader with a hand-written 16-bit refcount block and two table entries")
{
    // 512-byte clusters, 16-bit refcounts: 256 clusters per block.
    std::vector<uint8_t> bytes(8 * 512, 0);
    util::store_be64(bytes, 512, 0x400);                 // reftable[0] -> block at cluster 2
    util::store_be64(bytes, 520, 0x600 | 0x1ff);         // reftable[1] -> cluster 3, reserved bits set
    util::store_be16(bytes, 0x400 + 0, 1);
    util::store_be16(bytes, 0x400 + 2 * 7, 0x1234);
    util::store_be16(bytes, 0x600 + 2 * 3, 9);
    auto dev = std::make_shared<io::MemoryDevice>(bytes);
    qcow2::Header h = header(9, 4, 512, 1);
    auto table = refcount::read_refcount_table(*dev, h);
    REQUIRE(table);
    refcount::RefcountReader reader(*dev, qcow2::make_geometry(h), *table);
    CHECK(*reader.refcount(0) == 1);
    CHECK(*reader.refcount(7) == 0x1234);
    CHECK(*reader.refcount(8) == 0);
    CHECK(*reader.refcount(256 + 3) == 9); // second block, reserved bits ignored
    CHECK(*reader.refcount(7) == 0x1234);  // and back to the first
    CHECK(*reader.refcount(2 * 256) == 0); // table entry 2 is empty
}

TEST_CASE("RefcountReader refuses unaligned or missing refcount blocks")
{
    std::vector<uint8_t> bytes(0x30000, 0);
    qcow2::Header h = header(16, 4, 0x10000, 1);
    SUBCASE("unaligned block")
    {
        util::store_be64(bytes, 0x10000, 0x20200);
        io::MemoryDevice dev(bytes);
        refcount::RefcountReader reader(dev, qcow2::make_geometry(h), *refcount::read_refcount_table(dev, h));
        auto rc = reader.refcount(3);
        REQUIRE_FALSE(rc);
        CHECK(rc.error().code == Errc::corrupt_metadata);
        CHECK(rc.error().message.find("0x20200") != std::string::npos);
    }
    SUBCASE("block past the end of the file")
    {
        util::store_be64(bytes, 0x10000, 0x30000);
        io::MemoryDevice dev(bytes);
        refcount::RefcountReader reader(dev, qcow2::make_geometry(h), *refcount::read_refcount_table(dev, h));
        auto rc = reader.refcount(0);
        REQUIRE_FALSE(rc);
        CHECK(rc.error().code == Errc::truncated);
    }
    SUBCASE("block partly past the end of the file")
    {
        util::store_be64(bytes, 0x10000, 0x20000);
        bytes.resize(0x20000 + 100);
        io::MemoryDevice dev(bytes);
        refcount::RefcountReader reader(dev, qcow2::make_geometry(h), *refcount::read_refcount_table(dev, h));
        auto rc = reader.refcount(0);
        REQUIRE_FALSE(rc);
        CHECK(rc.error().code == Errc::truncated);
    }
}

TEST_CASE("RefcountReader never crashes on bit flips in the refcount table and block")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 64 << 10, .refcount_order = 3});
    b.write_cluster(0, 1);
    auto full = b.bytes();
    uint64_t clusters = full.size() / 512;
    for (size_t bit = b.reftable_offset() * 8; bit < (b.refblock_offset() + 512) * 8; ++bit) {
        auto flipped = full;
        flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        io::MemoryDevice dev(flipped);
        auto h = qcow2::parse_header(flipped);
        REQUIRE(h);
        refcount::RefcountReader reader(dev, qcow2::make_geometry(*h), *refcount::read_refcount_table(dev, *h));
        for (uint64_t c = 0; c < clusters + 2; ++c) {
            auto rc = reader.refcount(c);
            if (rc)
                CHECK(*rc <= 255);
            else
                CHECK((rc.error().code == Errc::corrupt_metadata || rc.error().code == Errc::truncated));
        }
    }
}
