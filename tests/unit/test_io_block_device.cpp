#include "io/block_device.hpp"
#include "io/memory_device.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;
using util::Errc;
using util::Result;

namespace {

// A device whose reads always fail, to see errors pass through.
class FailingDevice final : public io::BlockDevice {
public:
    const std::string& name() const override { return name_; }
    uint64_t size() const override { return 100; }
    Result<void> read(uint64_t, std::span<uint8_t>) override { ++reads; return util::fail(Errc::io, "EIO"); }
    Result<void> write(uint64_t, std::span<const uint8_t>) override { return {}; }
    Result<void> flush() override { return {}; }
    bool can_resize() const override { return false; }
    Result<void> resize(uint64_t) override { return {}; }
    Result<void> discard(uint64_t, uint64_t) override { return {}; }
    Result<io::AllocationRun> allocation_at(uint64_t) override { return io::AllocationRun{io::Allocation::data, 0}; }
    uint64_t allocated_bytes() const override { return 0; }
    int reads = 0;

private:
    std::string name_ = "failing";
};

} // namespace

TEST_CASE("read_zero_padded reads what exists and zero-fills past the end")
{
    io::MemoryDevice dev(std::vector<uint8_t>(10, 0xab));

    SUBCASE("entirely inside")
    {
        std::vector<uint8_t> out(4, 0x11);
        REQUIRE(dev.read_zero_padded(2, out));
        CHECK(out == std::vector<uint8_t>(4, 0xab));
    }
    SUBCASE("straddling the end")
    {
        std::vector<uint8_t> out(6, 0x11);
        REQUIRE(dev.read_zero_padded(7, out));
        CHECK(out == std::vector<uint8_t>{0xab, 0xab, 0xab, 0, 0, 0});
    }
    SUBCASE("starting at the end")
    {
        std::vector<uint8_t> out(3, 0x11);
        REQUIRE(dev.read_zero_padded(10, out));
        CHECK(out == std::vector<uint8_t>(3, 0));
        CHECK(dev.reads() == 0); // nothing to read from the device
    }
    SUBCASE("far past the end, near 2^64")
    {
        std::vector<uint8_t> out(3, 0x11);
        REQUIRE(dev.read_zero_padded(~uint64_t{0} - 1, out));
        CHECK(out == std::vector<uint8_t>(3, 0));
    }
    SUBCASE("empty buffer")
    {
        REQUIRE(dev.read_zero_padded(5, std::span<uint8_t>{}));
    }
}

TEST_CASE("read_zero_padded passes a read error through")
{
    FailingDevice dev;
    std::vector<uint8_t> out(8);
    auto r = dev.read_zero_padded(96, out);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::io);
    CHECK(dev.reads == 1);
    // Past the end no read is attempted, so there is nothing to fail.
    CHECK(dev.read_zero_padded(100, out));
    CHECK(dev.reads == 1);
}
