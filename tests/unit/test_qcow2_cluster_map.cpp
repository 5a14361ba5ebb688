#include "fixtures/doctest_printers.hpp"
#include "fixtures/image_walk.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/image.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;
using qcow2::RangeKind;
using test::Run;
using util::Errc;

namespace {

std::unique_ptr<qcow2::Image> open(std::vector<uint8_t> bytes)
{
    auto img = qcow2::Image::open(std::make_shared<io::MemoryDevice>(std::move(bytes)));
    REQUIRE(img);
    return std::move(*img);
}

std::vector<uint8_t> read_run(qcow2::Image& img, uint64_t offset, uint64_t length)
{
    auto s = img.range_status(offset, length);
    REQUIRE(s);
    REQUIRE(s->length == length);
    std::vector<uint8_t> out(length, 0xee);
    auto r = img.read_allocated(offset, *s, out);
    REQUIRE(r);
    return out;
}

constexpr uint64_t kib = 1024;

} // namespace

TEST_CASE("range_status maps data, zero, compressed and unallocated clusters across L2 tables")
{
    // 512-byte clusters: one L2 table maps 64 clusters (32 KiB).
    test::Qcow2Builder b({.cluster_bits = 9, .size = 256 * kib});
    b.set_l2_entry(0, 0);  // allocate both L2 tables first so that
    b.set_l2_entry(64, 0); // the data clusters below are contiguous
    uint64_t h0 = b.write_cluster(0, 0x10);
    b.write_cluster(1, 0x11);
    b.set_l2_entry(2, qcow2::oflag_zero);
    uint64_t prealloc = b.allocate_cluster();
    b.set_l2_entry(3, prealloc | qcow2::oflag_zero | qcow2::oflag_copied);
    b.write_compressed_cluster(4, 0x44);
    b.write_compressed_cluster(5, 0x55);
    uint64_t h62 = b.write_cluster(62, 0x62);
    for (uint64_t c = 63; c < 66; ++c)
        b.write_cluster(c, static_cast<uint8_t>(c));
    auto img = open(b.bytes());

    auto runs = test::walk(*img);
    REQUIRE(runs);
    const std::vector<Run> expected{
        {0, 1024, RangeKind::data, h0},
        {1024, 512, RangeKind::zero, std::nullopt},
        {1536, 512, RangeKind::zero, prealloc},
        {2048, 1024, RangeKind::compressed, std::nullopt},
        {3072, 62 * 512 - 3072, RangeKind::unallocated, std::nullopt},
        {62 * 512, 4 * 512, RangeKind::data, h62}, // continues across the L2 boundary
        {66 * 512, 256 * kib - 66 * 512, RangeKind::unallocated, std::nullopt},
    };
    CHECK(*runs == expected);
}

TEST_CASE("range_status reports the host offset of the byte asked for")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 64 * kib});
    b.set_l2_entry(0, 0);
    uint64_t h = b.write_cluster(10, 1);
    auto img = open(b.bytes());
    auto s = img->range_status(10 * 512 + 100, 1000);
    REQUIRE(s);
    CHECK(s->kind == RangeKind::data);
    CHECK(s->host_offset == h + 100);
    CHECK(s->length == 412);
}

TEST_CASE("range_status splits data at a host discontinuity")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 64 * kib});
    b.set_l2_entry(0, 0);
    uint64_t h0 = b.write_cluster(1, 1);
    uint64_t gap = b.allocate_cluster();
    uint64_t h2 = b.write_cluster(2, 2);
    REQUIRE(h2 == gap + 512);
    // Guest clusters 3 and 4 map backwards on the host.
    uint64_t h4 = b.write_cluster(4, 4);
    uint64_t h3 = b.write_cluster(3, 3);
    auto img = open(b.bytes());
    auto runs = test::walk(*img);
    REQUIRE(runs);
    const std::vector<Run> expected{
        {0, 512, RangeKind::unallocated, std::nullopt},
        {512, 512, RangeKind::data, h0},
        {1024, 512, RangeKind::data, h2},
        {1536, 512, RangeKind::data, h3},
        {2048, 512, RangeKind::data, h4},
        {2560, 64 * kib - 2560, RangeKind::unallocated, std::nullopt},
    };
    CHECK(*runs == expected);
}

TEST_CASE("range_status respects max_length and the virtual size")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 64 * kib});
    b.set_l2_entry(0, 0);
    b.write_cluster(0, 1);
    b.write_cluster(1, 1);
    auto img = open(b.bytes());
    for (uint64_t max : {uint64_t{1}, uint64_t{100}, uint64_t{512}, uint64_t{700}}) {
        auto s = img->range_status(0, max);
        REQUIRE(s);
        CHECK(s->length == max);
    }
    auto tail = img->range_status(64 * kib - 10, 1 << 20);
    REQUIRE(tail);
    CHECK(tail->length == 10);
    auto unalloc = img->range_status(5000, 300);
    REQUIRE(unalloc);
    CHECK(unalloc->kind == RangeKind::unallocated);
    CHECK(unalloc->length == 300);

    auto past = img->range_status(64 * kib, 1);
    REQUIRE_FALSE(past);
    CHECK(past.error().code == Errc::invalid_argument);
    auto none = img->range_status(0, 0);
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Errc::invalid_argument);
}

TEST_CASE("range_status of a virtual size that is not a multiple of the cluster size")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 1000});
    b.write_cluster(1, 0x77);
    auto img = open(b.bytes());
    auto runs = test::walk(*img);
    REQUIRE(runs);
    REQUIRE(runs->size() == 2);
    CHECK((*runs)[1].start == 512);
    CHECK((*runs)[1].length == 488);
    CHECK(read_run(*img, 512, 488) == std::vector<uint8_t>(488, 0x77));
}

TEST_CASE("range_status refuses an unaligned L2 table offset")
{
    test::Qcow2Builder b; // 64 KiB clusters
    b.write_cluster(0, 1);
    auto bytes = b.bytes();
    util::store_be64(bytes, b.l1_offset(), (b.l2_offset(0) + 0x200) | qcow2::oflag_copied);
    auto img = open(bytes);
    auto s = img->range_status(0, 4096);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::corrupt_metadata);
    CHECK(s.error().offset == b.l2_offset(0) + 0x200);
    CHECK(s.error().message.find("unaligned") != std::string::npos);
}

TEST_CASE("range_status refuses an unaligned data cluster offset")
{
    test::Qcow2Builder b;
    uint64_t h = b.write_cluster(1, 1);
    SUBCASE("data")
    {
        b.set_l2_entry(1, (h + 0x800) | qcow2::oflag_copied);
    }
    SUBCASE("preallocated zero")
    {
        b.set_l2_entry(1, (h + 0x800) | qcow2::oflag_zero);
    }
    auto img = open(b.bytes());
    auto s = img->range_status(65536, 4096);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::corrupt_metadata);
    CHECK(s.error().offset == b.l2_offset(0) + 8); // the L2 entry
    // The cluster before it is still fine.
    CHECK(img->range_status(0, 65536));
}

TEST_CASE("range_status and read_allocated with extended L2 subclusters")
{
    // 16 KiB clusters of 32 subclusters of 512 bytes.
    test::Qcow2Builder b({.cluster_bits = 14, .size = 1 << 20, .extended_l2 = true});
    b.set_l2_entry(0, 0);
    uint64_t h = b.allocate_cluster();
    {
        // Fill each subcluster of the host cluster with its index.
        auto data = std::vector<uint8_t>(16384);
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = static_cast<uint8_t>(i / 512 + 1);
        uint64_t blob = b.add_blob(data);
        h = blob;
    }
    b.set_l2_entry(0, h | qcow2::oflag_copied, 0x0full | (0x30ull << 32)); // alloc 0-3, zero 4-5
    b.set_l2_entry(2, 0, 0xffffffff00000000ull);                           // all zero, no host
    auto img = open(b.bytes());

    auto runs = test::walk(*img);
    REQUIRE(runs);
    const std::vector<Run> expected{
        {0, 2048, RangeKind::data, h},
        {2048, 1024, RangeKind::zero, h + 2048},
        // Unallocated subclusters of an allocated cluster carry its host
        // offset, as qemu reports them (QCOW2_SUBCLUSTER_UNALLOCATED_ALLOC).
        {3072, 16384 - 3072, RangeKind::unallocated, h + 3072},
        {16384, 16384, RangeKind::unallocated, std::nullopt},
        {32768, 16384, RangeKind::zero, std::nullopt},
        {49152, (1 << 20) - 49152, RangeKind::unallocated, std::nullopt},
    };
    CHECK(*runs == expected);

    auto sc3 = read_run(*img, 3 * 512, 512);
    CHECK(sc3 == std::vector<uint8_t>(512, 4));
    auto zero = read_run(*img, 2048, 1024);
    CHECK(zero == std::vector<uint8_t>(1024, 0));
}

TEST_CASE("range_status refuses an invalid extended L2 entry")
{
    test::Qcow2Builder b({.cluster_bits = 14, .size = 1 << 20, .extended_l2 = true});
    uint64_t h = b.write_cluster(0, 1);
    SUBCASE("allocated and zero for one subcluster")
    {
        b.set_l2_entry(1, h | qcow2::oflag_copied, (1ull << 7) | (1ull << 39));
    }
    SUBCASE("allocated without a host cluster")
    {
        b.set_l2_entry(1, 0, 1ull << 31);
    }
    auto img = open(b.bytes());
    auto s = img->range_status(16384 + 512 * 20, 512);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::corrupt_metadata);
    CHECK(s.error().offset == b.l2_offset(0) + 16);
    CHECK(img->range_status(0, 16384)); // the valid neighbour
}

TEST_CASE("read_allocated returns the data of data, zero and compressed runs")
{
    for (auto type : {qcow2::CompressionType::zlib, qcow2::CompressionType::zstd}) {
        CAPTURE(static_cast<int>(type));
        test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20, .compression_type = type});
        b.write_cluster(0, 0xd0);
        b.write_compressed_cluster(1, 0xc1);
        b.write_compressed_cluster(2, 0xc2);
        b.set_l2_entry(3, qcow2::oflag_zero);
        auto img = open(b.bytes());
        CHECK(img->header().compression_type == type);

        CHECK(read_run(*img, 0, 4096) == std::vector<uint8_t>(4096, 0xd0));
        CHECK(read_run(*img, 4096, 4096) == std::vector<uint8_t>(4096, 0xc1));
        CHECK(read_run(*img, 8192 + 100, 200) == std::vector<uint8_t>(200, 0xc2));
        // Back to the first compressed cluster, at an inner offset.
        CHECK(read_run(*img, 4096 + 4000, 96) == std::vector<uint8_t>(96, 0xc1));
        CHECK(read_run(*img, 3 * 4096, 4096) == std::vector<uint8_t>(4096, 0));

        auto s = img->range_status(8192, 1 << 20);
        REQUIRE(s);
        CHECK(s->kind == RangeKind::compressed);
        CHECK(s->length == 4096); // one compressed cluster per run
        CHECK_FALSE(s->host_offset);
    }
}

TEST_CASE("read_allocated reports a damaged compressed cluster and recovers")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    uint64_t bad_raw = b.write_compressed_cluster(1, 0xc1);
    b.write_compressed_cluster(2, 0xc2);
    auto bytes = b.bytes();
    uint64_t bad_host = bad_raw & ((uint64_t{1} << (62 - 4)) - 1);
    std::fill_n(bytes.begin() + static_cast<ptrdiff_t>(bad_host), 64, 0xff);
    auto img = open(bytes);

    for (int attempt = 0; attempt < 2; ++attempt) {
        auto s = img->range_status(4096, 4096);
        REQUIRE(s);
        std::vector<uint8_t> out(4096);
        auto r = img->read_allocated(4096, *s, out);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::corrupt_metadata);
        CHECK(r.error().offset == bad_host);
        // The good cluster next to it still reads.
        CHECK(read_run(*img, 8192, 4096) == std::vector<uint8_t>(4096, 0xc2));
    }
}

TEST_CASE("tables and data past the end of a short file read as zeros")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    b.write_cluster(0, 1);
    auto bytes = b.bytes();
    uint64_t end = bytes.size();
    SUBCASE("an L2 table past the end maps nothing")
    {
        util::store_be64(bytes, b.l1_offset(), (end + 0x10000) | qcow2::oflag_copied);
        auto img = open(bytes);
        auto runs = test::walk(*img);
        REQUIRE(runs);
        REQUIRE(runs->size() == 1);
        CHECK((*runs)[0].kind == RangeKind::unallocated);
    }
    SUBCASE("a data cluster past the end reads zeros")
    {
        util::store_be64(bytes, b.l2_offset(0), (end + 0x10000) | qcow2::oflag_copied);
        auto img = open(bytes);
        auto s = img->range_status(0, 4096);
        REQUIRE(s);
        CHECK(s->kind == RangeKind::data);
        CHECK(s->host_offset == end + 0x10000);
        std::vector<uint8_t> out(4096, 0xee);
        REQUIRE(img->read_allocated(0, *s, out));
        CHECK(out == std::vector<uint8_t>(4096, 0));
    }
}

TEST_CASE("range_status stays right with more L2 tables than the cache holds")
{
    // 20 L2 tables of 512-byte clusters, each with one data cluster.
    test::Qcow2Builder b({.cluster_bits = 9, .size = 20 * 32 * kib});
    for (uint64_t t = 0; t < 20; ++t)
        b.write_cluster(t * 64 + t, static_cast<uint8_t>(0x80 + t));
    auto img = open(b.bytes());
    for (int pass = 0; pass < 3; ++pass) {
        for (uint64_t t = 0; t < 20; ++t) {
            uint64_t t2 = pass == 1 ? 19 - t : (t * 7) % 20; // other orders evict other slots
            CAPTURE(t2);
            uint64_t guest = (t2 * 64 + t2) * 512;
            CHECK(read_run(*img, guest, 512) == std::vector<uint8_t>(512, static_cast<uint8_t>(0x80 + t2)));
            auto before = img->range_status(t2 * 64 * 512, 1);
            REQUIRE(before);
            CHECK(before->kind == (t2 == 0 ? RangeKind::data : RangeKind::unallocated));
        }
    }
}

TEST_CASE("read_allocated refuses what it cannot read")
{
    SUBCASE("an unallocated run")
    {
        test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
        auto img = open(b.bytes());
        auto s = img->range_status(0, 4096);
        REQUIRE(s);
        std::vector<uint8_t> out(4096);
        auto r = img->read_allocated(0, *s, out);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
    }
    SUBCASE("data of an encrypted image")
    {
        test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
        b.write_cluster(0, 1);
        auto bytes = b.bytes();
        util::store_be32(bytes, 32, 1); // AES
        auto img = open(bytes);
        auto s = img->range_status(0, 4096);
        REQUIRE(s);
        std::vector<uint8_t> out(4096);
        auto r = img->read_allocated(0, *s, out);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::unsupported_feature);
    }
}

TEST_CASE("read_allocated reads data clusters from the external data file")
{
    test::Qcow2Builder b({.cluster_bits = 12,
                          .size = 1 << 20,
                          .extra_incompatible = qcow2::incompat_data_file,
                          .extensions = {{qcow2::ext_data_file, {'d', '.', 'r', 'a', 'w'}}}});
    uint64_t h = b.write_cluster(2, 0x11);
    auto img = open(b.bytes());
    CHECK(img->needs_data_file());
    CHECK_FALSE(img->has_data_file());
    REQUIRE(img->extensions().data_file);
    CHECK(*img->extensions().data_file == "d.raw");
    auto s = img->range_status(2 * 4096, 4096);
    REQUIRE(s);
    std::vector<uint8_t> out(4096);
    auto missing = img->read_allocated(2 * 4096, *s, out);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::not_found);
    CHECK(missing.error().message.find("d.raw") != std::string::npos);

    std::vector<uint8_t> data_file(h + 4096, 0);
    std::fill(data_file.begin() + static_cast<ptrdiff_t>(h), data_file.end(), 0x99);
    img->set_data_file(std::make_shared<io::MemoryDevice>(data_file));
    CHECK(img->has_data_file());
    REQUIRE(img->read_allocated(2 * 4096, *s, out));
    CHECK(out == std::vector<uint8_t>(4096, 0x99)); // not the 0x11 in the image file
}

TEST_CASE("with an external data file, host offset 0 with the COPIED bit is data, not unallocated")
{
    // Spec, "Standard Cluster Descriptor": "The offset may only be 0 with bit
    // 63 set (indicating a host cluster offset of 0) when an external data
    // file is used." Guest cluster 0 of such an image maps to host offset 0.
    std::vector<uint8_t> data_file(3 * 4096);
    for (size_t i = 0; i < data_file.size(); ++i)
        data_file[i] = static_cast<uint8_t>(1 + i / 4096);
    SUBCASE("standard L2 entries")
    {
        test::Qcow2Builder b({.cluster_bits = 12,
                              .size = 1 << 20,
                              .extra_incompatible = qcow2::incompat_data_file,
                              .extensions = {{qcow2::ext_data_file, {'d'}}}});
        b.set_l2_entry(0, qcow2::oflag_copied);
        b.set_l2_entry(1, 4096 | qcow2::oflag_copied);
        auto img = open(b.bytes());
        img->set_data_file(std::make_shared<io::MemoryDevice>(data_file));
        auto s = img->range_status(0, 1 << 20);
        REQUIRE(s);
        CHECK(s->kind == RangeKind::data);
        CHECK(s->host_offset == 0u);
        CHECK(s->length == 8192);
        if (s->kind == RangeKind::data) {
            std::vector<uint8_t> out(8192);
            REQUIRE(img->read_allocated(0, *s, out));
            CHECK(out[0] == 1);
            CHECK(out[8191] == 2);
        }
        // Without the COPIED bit, offset 0 stays unallocated.
        auto unalloc = img->range_status(8192, 4096);
        REQUIRE(unalloc);
        CHECK(unalloc->kind == RangeKind::unallocated);
    }
    SUBCASE("extended L2 entries")
    {
        test::Qcow2Builder b({.cluster_bits = 14,
                              .size = 1 << 20,
                              .extended_l2 = true,
                              .extra_incompatible = qcow2::incompat_data_file,
                              .extensions = {{qcow2::ext_data_file, {'d'}}}});
        b.set_l2_entry(0, qcow2::oflag_copied, 0x1); // subcluster 0 allocated at host 0
        auto img = open(b.bytes());
        img->set_data_file(std::make_shared<io::MemoryDevice>(data_file));
        auto s = img->range_status(0, 1 << 20);
        CHECK(s.has_value()); // not "invalid": the subcluster has a host cluster
        if (s) {
            CHECK(s->kind == RangeKind::data);
            CHECK(s->host_offset == 0u);
            CHECK(s->length == 512);
        }
    }
}
