#include "fixtures/qcow2_builder.hpp"
#include "fixtures/temp_dir.hpp"
#include "formats/qcow2_layer.hpp"
#include "io/file_device.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;

namespace {

std::unique_ptr<formats::Qcow2Layer> layer_of(std::shared_ptr<io::BlockDevice> dev)
{
    auto img = qcow2::Image::open(std::move(dev));
    REQUIRE(img);
    return std::make_unique<formats::Qcow2Layer>(std::move(*img));
}

} // namespace

TEST_CASE("Qcow2Layer describes the image")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.raw", .backing_format = "raw"});
    auto layer = layer_of(std::make_shared<io::MemoryDevice>(b.bytes(), "top.qcow2"));
    CHECK(layer->format() == "qcow2");
    CHECK(layer->filename() == "top.qcow2");
    CHECK(layer->size() == 1 << 20);
    CHECK(layer->supports_backing());
    CHECK(layer->backing_name() == std::optional<std::string>("base.raw"));
    CHECK(layer->backing_format() == std::optional<std::string>("raw"));
    CHECK(layer->image().header().cluster_bits == 12);
}

TEST_CASE("Qcow2Layer::status translates every range kind")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    b.set_l2_entry(0, 0);
    uint64_t h = b.write_cluster(0, 0xd0);
    b.set_l2_entry(1, qcow2::oflag_zero);
    uint64_t prealloc = b.allocate_cluster();
    b.set_l2_entry(2, prealloc | qcow2::oflag_zero);
    b.write_compressed_cluster(3, 0xc3);
    auto dev = std::make_shared<io::MemoryDevice>(b.bytes());
    auto layer = layer_of(dev);

    auto data = layer->status(100, 1 << 20);
    REQUIRE(data);
    CHECK(data->data);
    CHECK_FALSE(data->zero);
    CHECK_FALSE(data->compressed);
    CHECK(data->offset == h + 100);
    CHECK(data->file == dev.get());
    CHECK(data->length == 4096 - 100);
    CHECK(data->allocated());

    auto zero = layer->status(4096, 4096);
    REQUIRE(zero);
    CHECK_FALSE(zero->data);
    CHECK(zero->zero);
    CHECK_FALSE(zero->offset);

    auto zero_alloc = layer->status(8192, 4096);
    REQUIRE(zero_alloc);
    CHECK(zero_alloc->zero);
    CHECK(zero_alloc->offset == prealloc);

    auto comp = layer->status(3 * 4096, 1 << 20);
    REQUIRE(comp);
    CHECK(comp->data);
    CHECK(comp->compressed);
    CHECK_FALSE(comp->offset);

    auto unalloc = layer->status(4 * 4096, 1 << 20);
    REQUIRE(unalloc);
    CHECK_FALSE(unalloc->allocated());
    CHECK(unalloc->length == (1 << 20) - 4 * 4096);

    std::vector<uint8_t> out(4096 - 100);
    REQUIRE(layer->read(100, *data, out));
    CHECK(out == std::vector<uint8_t>(out.size(), 0xd0));
    std::vector<uint8_t> cout(4096);
    REQUIRE(layer->read(3 * 4096, *comp, cout));
    CHECK(cout == std::vector<uint8_t>(4096, 0xc3));
    std::vector<uint8_t> zout(4096, 0xee);
    REQUIRE(layer->read(4096, *zero, zout));
    CHECK(zout == std::vector<uint8_t>(4096, 0));
}

TEST_CASE("Qcow2Layer: an odd virtual size is rounded up to a sector, the tail unallocated")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1000});
    b.write_cluster(0, 0x77);
    auto layer = layer_of(std::make_shared<io::MemoryDevice>(b.bytes()));
    CHECK(layer->size() == 1024);
    auto s = layer->status(0, 1024);
    REQUIRE(s);
    CHECK(s->data);
    CHECK(s->length == 1000);
    auto tail = layer->status(1000, 24);
    REQUIRE(tail);
    CHECK_FALSE(tail->allocated());
    CHECK(tail->length == 24);
}

TEST_CASE("Qcow2Layer::read refuses data without a host offset")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    b.write_cluster(0, 1);
    auto layer = layer_of(std::make_shared<io::MemoryDevice>(b.bytes()));
    formats::LayerStatus s;
    s.length = 4096;
    s.data = true;
    std::vector<uint8_t> out(4096);
    auto r = layer->read(0, s, out);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == util::Errc::unsupported_feature);
}

TEST_CASE("Qcow2Layer of an encrypted image reports no host offsets")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    b.write_cluster(0, 1);
    auto bytes = b.bytes();
    util::store_be32(bytes, 32, 2); // LUKS
    auto layer = layer_of(std::make_shared<io::MemoryDevice>(bytes));
    auto s = layer->status(0, 4096);
    REQUIRE(s);
    CHECK(s->data);
    CHECK_FALSE(s->offset);
    CHECK(s->file == nullptr);
}

TEST_CASE("detect_metadata_preallocation and the zero flag for holes in preallocated images")
{
    // 40 data clusters of 64 KiB after 5 metadata clusters.
    test::Qcow2Builder b({.cluster_bits = 16, .size = 4 << 20});
    b.set_l2_entry(0, 0);
    uint64_t first = 0;
    for (uint64_t c = 0; c < 40; ++c) {
        uint64_t h = b.write_cluster(c, 0x5a);
        if (c == 0)
            first = h;
    }
    test::TempDir dir;
    std::string path = dir.file("prealloc.qcow2");
    test::write_file(path, b.bytes());

    SUBCASE("every cluster stored: not preallocated")
    {
        auto dev = io::FileDevice::open(path, io::Access::read_only, io::LockMode::none);
        REQUIRE(dev);
        auto img = qcow2::Image::open(*dev);
        REQUIRE(img);
        auto pre = formats::detect_metadata_preallocation(**img);
        REQUIRE(pre);
        CHECK_FALSE(*pre);
        formats::Qcow2Layer layer(std::move(*img));
        auto s = layer.status(65536, 4 << 20);
        REQUIRE(s);
        CHECK(s->data);
        CHECK_FALSE(s->zero);
    }
    SUBCASE("data clusters punched out: preallocated, holes read as zero")
    {
        {
            auto rw = io::FileDevice::open(path, io::Access::read_write, io::LockMode::none);
            REQUIRE(rw);
            // Keep guest cluster 0, punch guest clusters 1..39.
            REQUIRE((*rw)->discard(first + 65536, 39 * 65536));
            REQUIRE((*rw)->flush());
        }
        auto dev = io::FileDevice::open(path, io::Access::read_only, io::LockMode::none);
        REQUIRE(dev);
        auto img = qcow2::Image::open(*dev);
        REQUIRE(img);
        auto pre = formats::detect_metadata_preallocation(**img);
        REQUIRE(pre);
        CHECK(*pre);
        formats::Qcow2Layer layer(std::move(*img));
        auto kept = layer.status(0, 4 << 20);
        REQUIRE(kept);
        CHECK(kept->data);
        CHECK_FALSE(kept->zero);
        CHECK(kept->length == 65536); // the host run of data ends there
        auto hole = layer.status(65536, 4 << 20);
        REQUIRE(hole);
        CHECK(hole->data);
        CHECK(hole->zero);
    }
}

TEST_CASE("detect_metadata_preallocation on memory is false (every byte is stored)")
{
    test::Qcow2Builder b({.cluster_bits = 12, .size = 1 << 20});
    for (uint64_t c = 0; c < 20; ++c)
        b.write_cluster(c, 1);
    auto img = qcow2::Image::open(std::make_shared<io::MemoryDevice>(b.bytes()));
    REQUIRE(img);
    auto pre = formats::detect_metadata_preallocation(**img);
    REQUIRE(pre);
    CHECK_FALSE(*pre);
}
