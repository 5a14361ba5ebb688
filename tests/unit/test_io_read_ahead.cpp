#include "io/read_ahead.hpp"

#include "fixtures/failing_reads.hpp"
#include "io/memory_device.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace imgmend;

namespace {

// A device of `regions` 512-byte regions, region r filled with byte r % 251.
io::MemoryDevice numbered(size_t regions)
{
    std::vector<uint8_t> bytes(regions * 512);
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<uint8_t>((i / 512) % 251);
    return io::MemoryDevice(std::move(bytes), "regions.img");
}

} // namespace

TEST_CASE("ReadAhead hands out every region in list order, on demand or from its thread")
{
    // 10 regions are read on demand, 300 from the background thread; the
    // order is the list's, not the device's.
    for (size_t count : {size_t{1}, size_t{10}, size_t{300}}) {
        CAPTURE(count);
        io::MemoryDevice dev = numbered(400);
        std::vector<uint64_t> offsets;
        for (size_t i = 0; i < count; ++i)
            offsets.push_back(((i * 7) % 400) * 512);
        io::ReadAhead reader(dev, offsets, 512);
        for (size_t i = 0; i < count; ++i) {
            auto bytes = reader.next();
            REQUIRE(bytes);
            REQUIRE(bytes->size() == 512);
            uint8_t expected = static_cast<uint8_t>(((i * 7) % 400) % 251);
            CHECK((*bytes)[0] == expected);
            CHECK((*bytes)[511] == expected);
        }
        auto past = reader.next();
        REQUIRE_FALSE(past);
        CHECK(past.error().code == util::Errc::invalid_argument);
    }
}

TEST_CASE("ReadAhead zero-fills what lies past the end and reports read errors per region")
{
    std::vector<uint8_t> bytes(200 * 512, 0xaa);
    test::FailingReads dev(bytes);
    dev.fail_reads(100 * 512, 100 * 512); // a damaged second half
    std::vector<uint64_t> offsets;
    for (uint64_t i = 0; i < 100; ++i)
        offsets.push_back(i * 512);
    offsets.push_back(150 * 512);             // fails
    offsets.push_back(bytes.size() + 4096);   // wholly past the end: zeros, no read
    offsets.push_back(bytes.size() - 256);    // half past the end
    offsets.push_back(0);
    io::ReadAhead reader(dev, offsets, 512);
    for (uint64_t i = 0; i < 100; ++i) {
        auto r = reader.next();
        REQUIRE(r);
        CHECK((*r)[100] == 0xaa);
    }
    auto failed = reader.next();
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code == util::Errc::io);
    auto beyond = reader.next();
    REQUIRE(beyond);
    CHECK(std::all_of(beyond->begin(), beyond->end(), [](uint8_t b) { return b == 0; }));
    auto straddling = reader.next();
    REQUIRE_FALSE(straddling); // its first half lies above the failing limit
    auto last = reader.next();
    REQUIRE(last);
    CHECK((*last)[0] == 0xaa);
}

TEST_CASE("ReadAhead can be dropped before its list is done")
{
    io::MemoryDevice dev = numbered(400);
    std::vector<uint64_t> offsets;
    for (uint64_t i = 0; i < 400; ++i)
        offsets.push_back(i * 512);
    for (size_t taken : {size_t{0}, size_t{1}, size_t{37}}) {
        io::ReadAhead reader(dev, offsets, 512);
        for (size_t i = 0; i < taken; ++i)
            REQUIRE(reader.next());
        // The destructor stops and joins the worker wherever it is.
    }
    CHECK(dev.reads() <= 3 * 400);
}
