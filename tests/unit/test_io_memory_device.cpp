#include "io/memory_device.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace imgmend;
using util::Errc;
using util::Result;

namespace {

std::vector<uint8_t> counting(size_t n)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(i);
    return v;
}

Result<void> write_bytes(io::MemoryDevice& dev, uint64_t offset, std::vector<uint8_t> bytes)
{
    return dev.write(offset, bytes);
}

} // namespace

TEST_CASE("MemoryDevice reads what it holds and refuses reads past the end")
{
    io::MemoryDevice dev(counting(64), "disk.img");
    CHECK(dev.name() == "disk.img");
    CHECK(dev.size() == 64);

    std::vector<uint8_t> out(8);
    REQUIRE(dev.read(10, out));
    CHECK(out[0] == 10);
    CHECK(out[7] == 17);
    REQUIRE(dev.read(56, out)); // exactly up to the end
    CHECK(out[7] == 63);

    auto past = dev.read(57, out);
    REQUIRE_FALSE(past);
    CHECK(past.error().code == Errc::truncated);
    CHECK(past.error().offset == 57u);
    CHECK(past.error().message.find("disk.img") != std::string::npos);

    auto wrap = dev.read(~uint64_t{0} - 2, out);
    REQUIRE_FALSE(wrap);
    CHECK(wrap.error().code == Errc::truncated);

    CHECK(dev.read(64, std::span<uint8_t>{})); // empty read at the end
    CHECK(dev.reads() == 5);
}

TEST_CASE("MemoryDevice records every write in order and grows")
{
    io::MemoryDevice dev(std::vector<uint8_t>(16, 0));
    REQUIRE(write_bytes(dev, 4, {1, 2, 3}));
    REQUIRE(write_bytes(dev, 20, {9, 9})); // past the end: grows, gap zero-filled
    REQUIRE(write_bytes(dev, 0, {7}));
    REQUIRE(dev.writes().size() == 3);
    CHECK(dev.writes()[0].offset == 4);
    CHECK(dev.writes()[0].length == 3);
    CHECK(dev.writes()[1].offset == 20);
    CHECK(dev.writes()[1].length == 2);
    CHECK(dev.writes()[2].offset == 0);
    CHECK(dev.writes()[2].length == 1);

    CHECK(dev.size() == 22);
    const auto& b = dev.bytes();
    CHECK(b[0] == 7);
    CHECK(b[4] == 1);
    CHECK(b[6] == 3);
    CHECK(b[7] == 0);
    CHECK(b[16] == 0);
    CHECK(b[19] == 0);
    CHECK(b[21] == 9);
}

TEST_CASE("MemoryDevice with a fixed size or a size limit refuses to grow")
{
    SUBCASE("not resizable")
    {
        io::MemoryDevice dev(std::vector<uint8_t>(16, 0));
        dev.set_resizable(false);
        CHECK_FALSE(dev.can_resize());
        REQUIRE(write_bytes(dev, 14, {1, 2})); // inside: fine
        auto r = write_bytes(dev, 15, {1, 2});
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::no_space);
        CHECK(dev.size() == 16);
        CHECK(dev.bytes()[15] == 2); // the refused write changed nothing
        CHECK(dev.writes().size() == 1);
        auto rs = dev.resize(32);
        REQUIRE_FALSE(rs);
        CHECK(rs.error().code == Errc::no_space);
    }
    SUBCASE("size limit")
    {
        io::MemoryDevice dev(std::vector<uint8_t>(16, 0));
        dev.set_size_limit(20);
        REQUIRE(write_bytes(dev, 16, {1, 2, 3, 4}));
        auto r = write_bytes(dev, 18, {1, 2, 3});
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::no_space);
        CHECK(dev.size() == 20);
        CHECK_FALSE(dev.resize(21));
        CHECK(dev.resize(20));
    }
    SUBCASE("a write whose end wraps around 2^64")
    {
        io::MemoryDevice dev(std::vector<uint8_t>(16, 0));
        auto r = write_bytes(dev, ~uint64_t{0}, {1, 2});
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::no_space);
        CHECK(dev.writes().empty());
    }
}

TEST_CASE("MemoryDevice::fail_write fails exactly write number N")
{
    io::MemoryDevice dev(std::vector<uint8_t>(16, 0));
    dev.fail_write(1);
    REQUIRE(write_bytes(dev, 0, {1}));
    auto r = write_bytes(dev, 1, {2});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::io);
    CHECK(dev.bytes()[1] == 0);     // the failed write left no trace
    CHECK(dev.writes().size() == 1); // and is not in the log
    CHECK(dev.flush());              // a failed write is not a crash
    // Only write #1 fails: the one after it (e.g. a retry) goes through.
    CHECK(write_bytes(dev, 2, {3}));
    CHECK(dev.bytes()[2] == 3);
}

TEST_CASE("MemoryDevice::crash_after_write loses every later write and flush")
{
    io::MemoryDevice dev(std::vector<uint8_t>(8, 0xee));
    dev.crash_after_write(2);
    REQUIRE(write_bytes(dev, 0, {1}));
    REQUIRE(dev.flush());
    REQUIRE(write_bytes(dev, 1, {2})); // write 2 of 2: succeeds, but not flushed
    // The crash happens right after write 2.
    auto f = dev.flush();
    REQUIRE_FALSE(f);
    CHECK(f.error().code == Errc::io);
    auto w = write_bytes(dev, 2, {3});
    REQUIRE_FALSE(w);
    CHECK(w.error().code == Errc::io);
    CHECK_FALSE(dev.resize(4));
    CHECK_FALSE(dev.discard(0, 4));

    CHECK(dev.writes().size() == 2);
    CHECK(dev.bytes()[1] == 2);
    CHECK(dev.bytes()[2] == 0xee);
    CHECK(dev.size() == 8);
    // What a power cut leaves: only the first write was flushed.
    CHECK(dev.flushed_bytes()[0] == 1);
    CHECK(dev.flushed_bytes()[1] == 0xee);
}

TEST_CASE("MemoryDevice::crash_after_write(0) fails from the start")
{
    io::MemoryDevice dev(std::vector<uint8_t>(4, 5));
    dev.crash_after_write(0);
    CHECK_FALSE(write_bytes(dev, 0, {1}));
    CHECK_FALSE(dev.flush());
    CHECK(dev.bytes()[0] == 5);
    CHECK(dev.flushed_bytes()[0] == 5);
}

TEST_CASE("MemoryDevice::flushed_bytes tracks the last successful flush")
{
    io::MemoryDevice dev(std::vector<uint8_t>(4, 0));
    CHECK(dev.flushed_bytes() == std::vector<uint8_t>(4, 0)); // the initial content counts as flushed
    REQUIRE(write_bytes(dev, 0, {1, 2}));
    CHECK(dev.flushed_bytes() == std::vector<uint8_t>(4, 0));
    REQUIRE(dev.flush());
    CHECK(dev.flushed_bytes() == std::vector<uint8_t>{1, 2, 0, 0});
    REQUIRE(write_bytes(dev, 4, {9}));
    REQUIRE(dev.resize(2));
    CHECK(dev.flushed_bytes().size() == 4);
    REQUIRE(dev.flush());
    CHECK(dev.flushed_bytes() == std::vector<uint8_t>{1, 2});
}

TEST_CASE("MemoryDevice::resize grows with zeros and shrinks")
{
    io::MemoryDevice dev(std::vector<uint8_t>(4, 0xaa));
    REQUIRE(dev.resize(8));
    CHECK(dev.size() == 8);
    CHECK(dev.bytes()[3] == 0xaa);
    CHECK(dev.bytes()[4] == 0);
    REQUIRE(dev.resize(2));
    CHECK(dev.size() == 2);
    REQUIRE(dev.resize(4));
    CHECK(dev.bytes()[2] == 0); // shrinking forgot the old bytes
}

TEST_CASE("MemoryDevice::discard zeroes the range inside the device")
{
    io::MemoryDevice dev(std::vector<uint8_t>(16, 0xff));
    REQUIRE(dev.discard(4, 4));
    CHECK(dev.bytes()[3] == 0xff);
    CHECK(dev.bytes()[4] == 0);
    CHECK(dev.bytes()[7] == 0);
    CHECK(dev.bytes()[8] == 0xff);
    REQUIRE(dev.discard(12, 100)); // clipped at the end, does not grow
    CHECK(dev.size() == 16);
    CHECK(dev.bytes()[15] == 0);
    REQUIRE(dev.discard(20, 4)); // entirely past the end: nothing
    CHECK(dev.size() == 16);
    CHECK(dev.writes().size() == 2);
}

TEST_CASE("MemoryDevice::allocation_at reports data up to the end")
{
    io::MemoryDevice dev(std::vector<uint8_t>(100, 0));
    auto a = dev.allocation_at(0);
    REQUIRE(a);
    CHECK(a->state == io::Allocation::data);
    CHECK(a->length == 100);
    auto b = dev.allocation_at(99);
    REQUIRE(b);
    CHECK(b->length == 1);
    auto end = dev.allocation_at(100);
    REQUIRE(end);
    CHECK(end->state == io::Allocation::hole);
    CHECK(end->length == 0);
    CHECK(dev.allocated_bytes() == 100);
}
