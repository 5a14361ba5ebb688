#include "fixtures/qcow2_builder.hpp"
#include "qcow2/image.hpp"
#include "rebase/allocator.hpp"
#include "rebase/overlay_writer.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

using namespace imgmend;

namespace {

constexpr uint64_t cs = 64 * 1024;

struct Fixture {
    std::shared_ptr<io::MemoryDevice> dev;
    std::unique_ptr<qcow2::Image> image;
    std::unique_ptr<rebase::ClusterAllocator> allocator;
    std::unique_ptr<rebase::OverlayWriter> writer;

    Fixture()
    {
        test::Qcow2Builder b({.cluster_bits = 16, .size = 4 << 20});
        b.write_cluster(40, 0x11); // an L2 table for the guest clusters below
        dev = b.device();
        auto opened = qcow2::Image::open(dev);
        REQUIRE(opened);
        image = std::move(*opened);
        allocator = std::make_unique<rebase::ClusterAllocator>(*image);
        writer = std::make_unique<rebase::OverlayWriter>(*image, *allocator);
    }

    void apply(uint64_t guest_cluster, std::span<const uint8_t> data, std::shared_ptr<const void> owner = {})
    {
        rebase::ClusterUpdate u;
        u.guest_cluster = guest_cluster;
        u.data = data;
        u.write_mask = 1;
        u.owner = std::move(owner);
        REQUIRE(writer->apply(u));
    }
};

} // namespace

TEST_CASE("OverlayWriter gathers data clusters allocated one after another into one write")
{
    Fixture f;
    const uint64_t end = f.allocator->end_of_file();
    std::vector<uint8_t> buf(3 * cs);
    for (size_t i = 0; i < buf.size(); ++i)
        buf[i] = static_cast<uint8_t>(i / cs + 1);
    f.apply(0, std::span<const uint8_t>(buf).subspan(0, cs));
    f.apply(1, std::span<const uint8_t>(buf).subspan(cs, cs));
    f.apply(2, std::span<const uint8_t>(buf).subspan(2 * cs, cs));
    CHECK(f.dev->writes().empty()); // held back until write_pending
    REQUIRE(f.writer->write_pending());
    REQUIRE(f.dev->writes().size() == 1);
    CHECK(f.dev->writes()[0].offset == end);
    CHECK(f.dev->writes()[0].length == 3 * cs);
    std::vector<uint8_t> back(3 * cs);
    REQUIRE(f.dev->read(end, back));
    CHECK(back == buf);
    REQUIRE(f.writer->write_pending()); // nothing left: no write
    CHECK(f.dev->writes().size() == 1);
}

TEST_CASE("OverlayWriter splits the write where the host offsets stop following each other")
{
    Fixture f;
    std::vector<uint8_t> a(cs, 1), b(cs, 2);
    f.apply(0, a);
    f.allocator->allocate(); // something else takes the next cluster
    f.apply(1, b);
    REQUIRE(f.writer->write_pending());
    REQUIRE(f.dev->writes().size() == 2);
    CHECK(f.dev->writes()[1].offset == f.dev->writes()[0].offset + 2 * cs);
}

TEST_CASE("OverlayWriter keeps the owner of pending data alive until it is written")
{
    Fixture f;
    auto owner = std::make_shared<std::vector<uint8_t>>(cs, 7);
    f.apply(0, *owner, owner);
    f.apply(1, *owner, owner);
    CHECK(owner.use_count() == 2); // one reference per run of parts, not per cluster
    REQUIRE(f.writer->write_pending());
    CHECK(owner.use_count() == 1);
    // Parts from memory that is not adjacent still go out in order.
    REQUIRE(f.dev->writes().size() == 2);
    CHECK(f.dev->writes()[1].offset == f.dev->writes()[0].offset + cs);
}
