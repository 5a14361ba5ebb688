#include "fixtures/qcow2_builder.hpp"
#include "qcow2/image.hpp"

#include <doctest/doctest.h>

using namespace imgmend;

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
        for (uint64_t off = 0; off < 64 * 1024;) {
            auto s = (*img)->range_status(off, 64 * 1024 - off);
            if (!s)
                break;
            if (s->kind == qcow2::RangeKind::data || s->kind == qcow2::RangeKind::compressed) {
                std::vector<uint8_t> out(std::min<uint64_t>(s->length, 512));
                (void)(*img)->read_allocated(off, *s, out);
            }
            off += s->length;
        }
    }
}
