#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <array>
#include <limits>
#include <vector>

using namespace imgmend::util;

namespace {
const std::vector<uint8_t> sample{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
}

TEST_CASE("Cursor reads big-endian integers in sequence")
{
    Cursor c(sample);
    CHECK(c.u8() == 0x01);
    CHECK(c.be16() == 0x0203);
    CHECK(c.position() == 3);
    CHECK(c.be32() == 0x04050607u);
    CHECK(c.be64() == 0x08090a0b0c0d0e0full);
    CHECK(c.position() == 15);
    CHECK(c.remaining() == 1);
    CHECK(c.u8() == 0x10);
    CHECK(c.remaining() == 0);
    CHECK_FALSE(c.overrun());
}

TEST_CASE("Cursor starts at the given position")
{
    Cursor c(sample, 12);
    CHECK(c.be32() == 0x0d0e0f10u);
    CHECK_FALSE(c.overrun());
    CHECK(c.remaining() == 0);
}

TEST_CASE("Cursor reads strings and byte spans")
{
    const std::vector<uint8_t> bytes{'a', 'b', 'c', 0, 'd', 0xff};
    Cursor c(bytes);
    CHECK(c.string(3) == "abc");
    auto rest = c.bytes(3);
    REQUIRE(rest.size() == 3);
    CHECK(rest[0] == 0);
    CHECK(rest[1] == 'd');
    CHECK(rest[2] == 0xff);
    CHECK(rest.data() == bytes.data() + 3); // a view, not a copy
    CHECK(c.string(0).empty());
    CHECK_FALSE(c.overrun());
}

TEST_CASE("Cursor overrun returns zero, keeps the position and is sticky")
{
    SUBCASE("integer read past the end")
    {
        Cursor c(std::span<const uint8_t>(sample).first(3));
        CHECK(c.be32() == 0u);
        CHECK(c.overrun());
        CHECK(c.position() == 0);
        // Three bytes would still be there, but an overrun cursor reads nothing more.
        CHECK(c.u8() == 0);
        CHECK(c.be16() == 0);
        CHECK(c.position() == 0);
    }
    SUBCASE("string and bytes past the end")
    {
        Cursor c(sample);
        c.skip(10);
        CHECK(c.string(7).empty());
        CHECK(c.overrun());
        CHECK(c.bytes(1).empty());
        CHECK(c.position() == 10);
    }
    SUBCASE("huge lengths do not wrap")
    {
        Cursor c(sample);
        c.skip(4);
        CHECK(c.bytes(std::numeric_limits<size_t>::max()).empty());
        CHECK(c.overrun());
        Cursor d(sample);
        d.skip(1);
        d.skip(std::numeric_limits<size_t>::max());
        CHECK(d.overrun());
        CHECK(d.position() == 1);
    }
    SUBCASE("empty input")
    {
        Cursor c(std::span<const uint8_t>{});
        CHECK(c.u8() == 0);
        CHECK(c.overrun());
    }
    SUBCASE("reading exactly to the end is not an overrun")
    {
        Cursor c(sample);
        c.skip(8);
        CHECK(c.be64() == 0x090a0b0c0d0e0f10ull);
        CHECK_FALSE(c.overrun());
        c.skip(0);
        CHECK_FALSE(c.overrun());
        c.u8();
        CHECK(c.overrun());
    }
}

TEST_CASE("Cursor::seek moves anywhere inside, overruns past the end")
{
    Cursor c(sample);
    c.seek(14);
    CHECK(c.be16() == 0x0f10);
    c.seek(0);
    CHECK(c.u8() == 0x01);
    c.seek(sample.size());
    CHECK_FALSE(c.overrun());
    CHECK(c.remaining() == 0);
    c.seek(sample.size() + 1);
    CHECK(c.overrun());
    CHECK(c.position() == sample.size());
    c.seek(0); // seeking back does not clear the flag
    CHECK(c.overrun());
    CHECK(c.u8() == 0);
}

TEST_CASE("store_be* and load_be* use big-endian at the given position")
{
    std::array<uint8_t, 16> buf{};
    store_be16(buf, 1, 0xa1b2);
    CHECK(buf[0] == 0);
    CHECK(buf[1] == 0xa1);
    CHECK(buf[2] == 0xb2);
    store_be32(buf, 4, 0x01020304u);
    CHECK(buf[4] == 0x01);
    CHECK(buf[7] == 0x04);
    store_be64(buf, 8, 0x1122334455667788ull);
    CHECK(buf[8] == 0x11);
    CHECK(buf[15] == 0x88);
    CHECK(buf[3] == 0); // untouched between fields

    CHECK(load_be16(buf, 1) == 0xa1b2);
    CHECK(load_be32(buf, 4) == 0x01020304u);
    CHECK(load_be64(buf, 8) == 0x1122334455667788ull);
    // Unaligned positions work too.
    CHECK(load_be32(buf, 1) == 0xa1b20001u);

    Cursor c(buf);
    c.skip(8);
    CHECK(c.be64() == 0x1122334455667788ull);
}
