#include "fixtures/temp_dir.hpp"
#include "formats/raw_layer.hpp"
#include "io/file_device.hpp"
#include "io/memory_device.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;

TEST_CASE("sector_rounded rounds up to whole 512-byte sectors")
{
    CHECK(formats::sector_rounded(0) == 0);
    CHECK(formats::sector_rounded(1) == 512);
    CHECK(formats::sector_rounded(511) == 512);
    CHECK(formats::sector_rounded(512) == 512);
    CHECK(formats::sector_rounded(513) == 1024);
    CHECK(formats::sector_rounded(1ull << 40) == 1ull << 40);
}

TEST_CASE("RawLayer over memory: size, status and reads")
{
    std::vector<uint8_t> bytes(1000);
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<uint8_t>(i % 251);
    auto dev = std::make_shared<io::MemoryDevice>(bytes, "disk.raw");
    formats::RawLayer layer(dev);
    CHECK(layer.format() == "raw");
    CHECK(layer.filename() == "disk.raw");
    CHECK(layer.size() == 1024);
    CHECK_FALSE(layer.supports_backing());
    CHECK_FALSE(layer.backing_name());
    CHECK_FALSE(layer.backing_format());

    auto s = layer.status(100, 10000);
    REQUIRE(s);
    CHECK(s->data);
    CHECK_FALSE(s->zero);
    CHECK(s->length == 900);
    CHECK(s->offset == 100u);
    CHECK(s->file == dev.get());

    auto capped = layer.status(0, 10);
    REQUIRE(capped);
    CHECK(capped->length == 10);

    // The sector-rounding tail past the end of the file reads as zeros.
    auto tail = layer.status(1000, 24);
    REQUIRE(tail);
    CHECK_FALSE(tail->data);
    CHECK(tail->zero);
    CHECK(tail->length == 24);

    std::vector<uint8_t> out(30, 0xee);
    REQUIRE(layer.read(994, *s, out));
    for (size_t i = 0; i < 6; ++i)
        CHECK(out[i] == bytes[994 + i]);
    for (size_t i = 6; i < 30; ++i)
        CHECK(out[i] == 0);
}

TEST_CASE("RawLayer over a sparse file reports holes as zero")
{
    test::TempDir dir;
    std::string path = dir.file("sparse.raw");
    test::write_file(path, std::span<const uint8_t>{});
    {
        auto dev = io::FileDevice::open(path, io::Access::read_write, io::LockMode::none);
        REQUIRE(dev);
        std::vector<uint8_t> data(65536, 0x42);
        REQUIRE((*dev)->write(1 << 20, data));
        REQUIRE((*dev)->resize(2 << 20));
    }
    auto dev = io::FileDevice::open(path, io::Access::read_only, io::LockMode::none);
    REQUIRE(dev);
    formats::RawLayer layer(*dev);
    auto hole = layer.status(0, 2 << 20);
    REQUIRE(hole);
    CHECK_FALSE(hole->data);
    CHECK(hole->zero);
    CHECK(hole->length == 1 << 20);
    auto data = layer.status(1 << 20, 2 << 20);
    REQUIRE(data);
    CHECK(data->data);
    CHECK(data->length == 65536);
    auto tail = layer.status((1 << 20) + 65536, 2 << 20);
    REQUIRE(tail);
    CHECK(tail->zero);
    CHECK(tail->length == (1 << 20) - 65536);
}
