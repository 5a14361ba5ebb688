#include "fixtures/doctest_printers.hpp"
#include "fixtures/image_walk.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/extensions.hpp"
#include "qcow2/image.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace imgmend;
using util::Errc;
using util::Result;

namespace {

Result<std::unique_ptr<qcow2::Image>> open_bytes(std::vector<uint8_t> bytes)
{
    return qcow2::Image::open(std::make_shared<io::MemoryDevice>(std::move(bytes)));
}

// Maps and reads everything an opened image claims to hold; any error is
// acceptable, a crash (or sanitizer report) is not.
void exercise(qcow2::Image& img)
{
    uint64_t size = img.geometry().virtual_size;
    for (uint64_t off = 0; off < size;) {
        auto s = img.range_status(off, size - off);
        if (!s)
            return;
        REQUIRE(s->length > 0);
        REQUIRE(s->length <= size - off);
        if (s->kind == qcow2::RangeKind::data || s->kind == qcow2::RangeKind::compressed ||
            s->kind == qcow2::RangeKind::zero) {
            std::vector<uint8_t> out(std::min<uint64_t>(s->length, 4096));
            (void)img.read_allocated(off, *s, out);
        }
        off += s->length;
    }
}

} // namespace

TEST_CASE("Image::open reads a built image and maps its clusters")
{
    test::Qcow2Builder b;
    uint64_t host = b.write_cluster(3, 0xab);
    auto img = qcow2::Image::open(b.device());
    REQUIRE(img.has_value());
    CHECK((*img)->geometry().cluster_size == 65536);

    auto unalloc = (*img)->range_status(0, 4 << 20);
    REQUIRE(unalloc.has_value());
    CHECK(unalloc->kind == qcow2::RangeKind::unallocated);
    CHECK(unalloc->length == 3 * 65536);

    auto data = (*img)->range_status(3 * 65536 + 100, 4 << 20);
    REQUIRE(data.has_value());
    CHECK(data->kind == qcow2::RangeKind::data);
    CHECK(*data->host_offset == host + 100);
    CHECK(data->length == 65536 - 100);

    std::vector<uint8_t> out(16);
    REQUIRE((*img)->read_allocated(3 * 65536 + 100, *data, out).has_value());
    CHECK(out[0] == 0xab);
}

TEST_CASE("Image::open refuses unknown incompatible features by name")
{
    test::Qcow2Builder b;
    auto bytes = b.bytes();
    bytes[72 + 7] |= 0x20; // incompatible bit 5, unknown
    auto img = qcow2::Image::open(std::make_shared<io::MemoryDevice>(bytes));
    REQUIRE_FALSE(img.has_value());
    CHECK(img.error().code == util::Errc::unsupported_feature);
    CHECK(img.error().message.find("unknown feature bit 5") != std::string::npos);
}

TEST_CASE("Image::open gives an error, never a crash, at every truncation length")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 64 * 1024});
    b.write_cluster(1, 0x11);
    b.write_compressed_cluster(2, 0x22);
    auto full = b.bytes();
    for (size_t len = 0; len < full.size(); ++len) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
        auto img = qcow2::Image::open(std::make_shared<io::MemoryDevice>(cut));
        if (!img)
            continue;
        // Whatever opened must map and read without crashing.
        exercise(**img);
    }
}

TEST_CASE("Image::open reads header, extensions, backing name and L1 of a version 3 image")
{
    test::Qcow2Builder b({.cluster_bits = 12,
                          .size = 8 << 20,
                          .backing_name = "base.qcow2",
                          .backing_format = "qcow2",
                          .extensions = {{0x77777777, {1, 2, 3}}}});
    b.write_cluster(600, 1); // in the second L2 table
    auto img = open_bytes(b.bytes());
    REQUIRE(img);
    const auto& h = (*img)->header();
    CHECK(h.version == 3);
    CHECK(h.cluster_bits == 12);
    CHECK(h.size == 8u << 20);
    REQUIRE((*img)->backing_name());
    CHECK(*(*img)->backing_name() == "base.qcow2");
    REQUIRE((*img)->extensions().backing_format);
    CHECK(*(*img)->extensions().backing_format == "qcow2");
    REQUIRE((*img)->extensions().unknown.size() == 1);
    CHECK((*img)->extensions().unknown[0].type == 0x77777777);
    CHECK((*img)->geometry().l2_entries == 512);
    CHECK((*img)->l1_entry(0) == 0);
    CHECK(((*img)->l1_entry(1) & qcow2::offset_mask) == b.l2_offset(1));
    CHECK(((*img)->l1_entry(1) & qcow2::oflag_copied) != 0);
    CHECK((*img)->l1_entry(1000000) == 0); // beyond the table
    CHECK((*img)->file().name() == "memory");
    CHECK_FALSE((*img)->needs_data_file());
}

TEST_CASE("Image::open reads a version 2 image")
{
    test::Qcow2Builder b({.version = 2, .cluster_bits = 16, .size = 1 << 20, .backing_name = "../base.raw"});
    b.write_cluster(2, 0x22);
    auto img = open_bytes(b.bytes());
    REQUIRE(img);
    CHECK((*img)->header().version == 2);
    CHECK((*img)->header().header_length == 72);
    CHECK((*img)->header().refcount_order == 4);
    REQUIRE((*img)->backing_name());
    CHECK(*(*img)->backing_name() == "../base.raw");
    auto runs = test::walk(**img);
    REQUIRE(runs);
    REQUIRE(runs->size() == 3);
    CHECK((*runs)[1].kind == qcow2::RangeKind::data);
}

TEST_CASE("Image::open: an empty backing name means no backing file")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    auto bytes = b.bytes();
    util::store_be64(bytes, 8, 0x200);
    util::store_be32(bytes, 16, 0);
    auto img = open_bytes(bytes);
    REQUIRE(img);
    CHECK_FALSE((*img)->backing_name());
}

TEST_CASE("Image::open refuses what it cannot open")
{
    SUBCASE("a file shorter than header_length")
    {
        test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
        auto bytes = b.bytes();
        bytes.resize(108); // the fixed fields fit, the padding to 112 does not
        auto img = open_bytes(bytes);
        REQUIRE_FALSE(img);
        CHECK(img.error().code == Errc::truncated);
    }
    SUBCASE("the external data file bit without a data file name")
    {
        test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20, .extra_incompatible = qcow2::incompat_data_file});
        auto img = open_bytes(b.bytes());
        REQUIRE_FALSE(img);
        CHECK(img.error().code == Errc::corrupt_metadata);
    }
    SUBCASE("an extension that overruns the header cluster")
    {
        test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20, .extensions = {{0x5555, {1}}}});
        auto bytes = b.bytes();
        util::store_be32(bytes, 112 + 4, 4096);
        auto img = open_bytes(bytes);
        REQUIRE_FALSE(img);
        CHECK(img.error().code == Errc::corrupt_metadata);
    }
    SUBCASE("not a qcow2 file")
    {
        auto img = open_bytes(std::vector<uint8_t>(4096, 0));
        REQUIRE_FALSE(img);
        CHECK(img.error().code == Errc::bad_magic);
    }
    SUBCASE("an empty file")
    {
        auto img = open_bytes({});
        REQUIRE_FALSE(img);
        CHECK(img.error().code == Errc::bad_magic);
    }
}

TEST_CASE("Image::open names unknown incompatible features from the image's own table")
{
    std::vector<uint8_t> table(48, 0);
    table[0] = 0; // incompatible
    table[1] = 9;
    std::string name = "shiny new feature";
    std::copy(name.begin(), name.end(), table.begin() + 2);
    test::Qcow2Builder b({.cluster_bits = 12,
                          .size = 1 << 20,
                          .extra_incompatible = (1ull << 9) | (1ull << 20),
                          .extensions = {{qcow2::ext_feature_names, table}}});
    auto img = open_bytes(b.bytes());
    REQUIRE_FALSE(img);
    CHECK(img.error().code == Errc::unsupported_feature);
    CHECK(img.error().message.find("shiny new feature") != std::string::npos);
    CHECK(img.error().message.find("unknown feature bit 20") != std::string::npos);
}

TEST_CASE("Image::open ignores unknown compatible and autoclear features")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    auto bytes = b.bytes();
    util::store_be64(bytes, 80, ~uint64_t{0});
    util::store_be64(bytes, 88, 1ull << 40);
    auto img = open_bytes(bytes);
    REQUIRE(img);
    CHECK((*img)->header().compatible_features == ~uint64_t{0});
}

TEST_CASE("Image::open reads the part of the L1 table inside a short file")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 256 << 10}); // 8 L1 entries
    b.write_cluster(0, 1);
    b.write_cluster(64, 2);
    b.write_cluster(7 * 64, 3);
    auto bytes = b.bytes();
    // Move the L1 table to the end of the file and cut its last 3 entries off.
    std::vector<uint8_t> l1(bytes.begin() + static_cast<ptrdiff_t>(b.l1_offset()),
                            bytes.begin() + static_cast<ptrdiff_t>(b.l1_offset() + 64));
    uint64_t new_l1 = bytes.size();
    bytes.insert(bytes.end(), l1.begin(), l1.begin() + 5 * 8 + 3);
    util::store_be64(bytes, 40, new_l1);
    auto img = open_bytes(bytes);
    REQUIRE(img);
    CHECK((*img)->l1_entry(0) == util::load_be64(l1, 0));
    CHECK((*img)->l1_entry(1) == util::load_be64(l1, 8));
    CHECK((*img)->l1_entry(5) == 0);
    CHECK((*img)->l1_entry(7) == 0); // held an L2 table, but beyond the file
    auto runs = test::walk(**img);
    REQUIRE(runs);
    CHECK(runs->back().kind == qcow2::RangeKind::unallocated);
    CHECK(runs->back().start == 64 * 512 + 512);
}

TEST_CASE("Image::open at every truncation length of other image shapes")
{
    struct Shape {
        const char* name;
        test::BuilderOptions options;
    };
    const Shape shapes[] = {
        {"version 2 with backing", {.version = 2, .cluster_bits = 9, .size = 64 << 10, .backing_name = "b.img"}},
        {"extended L2", {.cluster_bits = 14, .size = 1 << 20, .extended_l2 = true}},
        {"zstd, refcount_order 0", {.cluster_bits = 9, .size = 64 << 10, .refcount_order = 0,
                                    .compression_type = qcow2::CompressionType::zstd}},
    };
    for (const Shape& shape : shapes) {
        INFO(std::string(shape.name));
        test::Qcow2Builder b(shape.options);
        b.write_cluster(1, 0x11);
        b.write_compressed_cluster(2, 0x22);
        b.set_l2_entry(3, qcow2::oflag_zero, shape.options.extended_l2 ? 0xffffffff00000000ull : 0);
        auto full = b.bytes();
        size_t step = full.size() > 100000 ? 7 : 1;
        size_t opened = 0;
        for (size_t len = 0; len <= full.size(); len += step) {
            std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
            auto img = open_bytes(cut);
            if (!img) {
                CHECK_FALSE(img.error().message.empty());
                continue;
            }
            ++opened;
            exercise(**img);
        }
        CHECK(opened > 0);
        REQUIRE(open_bytes(full));
    }
}

TEST_CASE("Image::open and mapping never crash on bit flips in the metadata")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 64 << 10, .backing_format = "raw"});
    b.set_l2_entry(0, 0);
    b.write_cluster(1, 0x11);
    b.write_cluster(2, 0x12);
    b.write_compressed_cluster(3, 0x33);
    b.set_l2_entry(4, qcow2::oflag_zero);
    auto full = b.bytes();
    // Header, refcount table and block, L1 and L2: the first five clusters.
    const size_t metadata_bytes = 5 * 512;
    size_t refused = 0;
    for (size_t bit = 0; bit < metadata_bytes * 8; ++bit) {
        auto flipped = full;
        flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        auto img = open_bytes(flipped);
        if (!img) {
            ++refused;
            continue;
        }
        exercise(**img);
    }
    CHECK(refused > 0);
    CHECK(refused < metadata_bytes * 8);
}

TEST_CASE("Image::open never crashes on bit flips in compressed data")
{
    test::Qcow2Builder b({.cluster_bits = 9, .size = 64 << 10});
    uint64_t raw = b.write_compressed_cluster(0, 0x33);
    auto full = b.bytes();
    uint64_t host = raw & ((uint64_t{1} << 61) - 1);
    for (size_t bit = host * 8; bit < (host + 32) * 8; ++bit) {
        auto flipped = full;
        flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        auto img = open_bytes(flipped);
        REQUIRE(img);
        auto s = (*img)->range_status(0, 512);
        REQUIRE(s);
        std::vector<uint8_t> out(512);
        auto r = (*img)->read_allocated(0, *s, out);
        if (!r)
            CHECK(r.error().code == Errc::corrupt_metadata);
    }
}

TEST_CASE("decode_l2_table decodes standard and extended entries")
{
    SUBCASE("standard: 8-byte entries")
    {
        qcow2::Header h;
        h.cluster_bits = 9;
        auto g = qcow2::make_geometry(h);
        std::vector<uint8_t> bytes(512, 0);
        util::store_be64(bytes, 0, 0x8000000000050000ull);
        util::store_be64(bytes, 63 * 8, qcow2::oflag_compressed | 0x1234);
        auto entries = qcow2::decode_l2_table(g, bytes);
        REQUIRE(entries.size() == 64);
        CHECK(entries[0].raw == 0x8000000000050000ull);
        CHECK(entries[0].bitmap == 0);
        CHECK(entries[1].raw == 0);
        CHECK(entries[63].raw == (qcow2::oflag_compressed | 0x1234));
    }
    SUBCASE("extended: 16-byte entries, descriptor then bitmap")
    {
        qcow2::Header h;
        h.cluster_bits = 14;
        h.incompatible_features = qcow2::incompat_extended_l2;
        auto g = qcow2::make_geometry(h);
        std::vector<uint8_t> bytes(16384, 0);
        util::store_be64(bytes, 16, 0x70000);
        util::store_be64(bytes, 24, 0xffff0000ffffull);
        util::store_be64(bytes, 1023 * 16 + 8, 1);
        auto entries = qcow2::decode_l2_table(g, bytes);
        REQUIRE(entries.size() == 1024);
        CHECK(entries[1].raw == 0x70000);
        CHECK(entries[1].bitmap == 0xffff0000ffffull);
        CHECK(entries[1023].raw == 0);
        CHECK(entries[1023].bitmap == 1);
    }
}

TEST_CASE("Image::l2_table returns the decoded table at an offset")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    uint64_t h = b.write_cluster(7, 1);
    auto img = open_bytes(b.bytes());
    REQUIRE(img);
    auto t = (*img)->l2_table(b.l2_offset(0));
    REQUIRE(t);
    REQUIRE((*t)->size() == 512);
    CHECK((**t)[7].host_offset() == h);
    CHECK((**t)[7].copied());
    CHECK((**t)[6].raw == 0);
    // A table past the end of the file reads as zeros, as qemu reads a short file.
    auto past = (*img)->l2_table(1ull << 40);
    REQUIRE(past);
    for (uint64_t i = 0; i < (*past)->size(); ++i)
        CHECK((**past)[i].raw == 0);
}
