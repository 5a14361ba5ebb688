#include "refcount/refcount_block.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

using namespace imgmend;
using refcount::get_entry;
using refcount::set_entry;

namespace {

std::vector<uint8_t> noise(size_t n, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v)
        b = static_cast<uint8_t>(rng());
    return v;
}

} // namespace

TEST_CASE("max_refcount for every width")
{
    const uint64_t expected[] = {1, 3, 15, 255, 65535, 0xffffffffull, ~uint64_t{0}};
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        CHECK(refcount::max_refcount(order) == expected[order]);
    }
}

TEST_CASE("get_entry reads the specification's bit layout")
{
    // Sub-byte widths: entry i at bit (i * bits) % 8 of byte i * bits / 8,
    // counted from the least significant bit.
    std::vector<uint8_t> block{0b10110010, 0xa5, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};
    SUBCASE("order 0 (1 bit)")
    {
        const uint64_t bits[] = {0, 1, 0, 0, 1, 1, 0, 1};
        for (uint64_t i = 0; i < 8; ++i)
            CHECK(get_entry(block, 0, i) == bits[i]);
        CHECK(get_entry(block, 0, 8) == 1);  // 0xa5 bit 0
        CHECK(get_entry(block, 0, 9) == 0);  // 0xa5 bit 1
        CHECK(get_entry(block, 0, 15) == 1); // 0xa5 bit 7
    }
    SUBCASE("order 1 (2 bits)")
    {
        CHECK(get_entry(block, 1, 0) == 0b10);
        CHECK(get_entry(block, 1, 1) == 0b00);
        CHECK(get_entry(block, 1, 2) == 0b11);
        CHECK(get_entry(block, 1, 3) == 0b10);
        CHECK(get_entry(block, 1, 4) == 0b01); // 0xa5 = 10 10 01 01
        CHECK(get_entry(block, 1, 7) == 0b10);
    }
    SUBCASE("order 2 (4 bits)")
    {
        CHECK(get_entry(block, 2, 0) == 0x2);
        CHECK(get_entry(block, 2, 1) == 0xb);
        CHECK(get_entry(block, 2, 2) == 0x5);
        CHECK(get_entry(block, 2, 3) == 0xa);
    }
    SUBCASE("order 3 (8 bits)")
    {
        CHECK(get_entry(block, 3, 0) == 0xb2);
        CHECK(get_entry(block, 3, 9) == 0xf0);
    }
    SUBCASE("order 4 (16 bits, big-endian)")
    {
        CHECK(get_entry(block, 4, 1) == 0x1234);
        CHECK(get_entry(block, 4, 4) == 0xdef0);
    }
    SUBCASE("order 5 (32 bits, big-endian)")
    {
        CHECK(get_entry(block, 5, 1) == 0x56789abcu);
    }
    SUBCASE("order 6 (64 bits, big-endian)")
    {
        CHECK(get_entry(block, 6, 0) == 0xb2a5123456789abcull);
    }
}

TEST_CASE("set_entry writes the specification's bit layout")
{
    SUBCASE("order 0")
    {
        std::vector<uint8_t> b(2, 0);
        set_entry(b, 0, 3, 1);
        set_entry(b, 0, 9, 1);
        CHECK(b[0] == 0x08);
        CHECK(b[1] == 0x02);
    }
    SUBCASE("order 1")
    {
        std::vector<uint8_t> b(1, 0);
        set_entry(b, 1, 2, 3);
        CHECK(b[0] == 0x30);
    }
    SUBCASE("order 2")
    {
        std::vector<uint8_t> b(2, 0);
        set_entry(b, 2, 1, 0xc);
        set_entry(b, 2, 2, 0x7);
        CHECK(b[0] == 0xc0);
        CHECK(b[1] == 0x07);
    }
    SUBCASE("order 4")
    {
        std::vector<uint8_t> b(4, 0);
        set_entry(b, 4, 1, 0xbeef);
        CHECK(b == std::vector<uint8_t>{0, 0, 0xbe, 0xef});
    }
    SUBCASE("order 5")
    {
        std::vector<uint8_t> b(4, 0);
        set_entry(b, 5, 0, 0x01020304);
        CHECK(b == std::vector<uint8_t>{1, 2, 3, 4});
    }
    SUBCASE("order 6")
    {
        std::vector<uint8_t> b(8, 0);
        set_entry(b, 6, 0, 0x0102030405060708ull);
        CHECK(b == std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8});
    }
}

TEST_CASE("set_entry and get_entry for every order leave neighbouring entries alone")
{
    const size_t block_bytes = 512;
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        uint64_t entries = block_bytes * 8 / (1u << order);
        uint64_t max = refcount::max_refcount(order);
        auto block = noise(block_bytes, order + 1);
        std::vector<uint64_t> before(entries);
        for (uint64_t i = 0; i < entries; ++i)
            before[i] = get_entry(block, order, i);

        // First, last, and entries around byte boundaries.
        for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{7}, uint64_t{8}, entries / 2, entries - 2,
                               entries - 1}) {
            CAPTURE(index);
            for (uint64_t value : {uint64_t{0}, max, uint64_t{1}, max / 2 + 1}) {
                CAPTURE(value);
                set_entry(block, order, index, value);
                before[index] = value;
                CHECK(get_entry(block, order, index) == value);
            }
        }
        for (uint64_t i = 0; i < entries; ++i) {
            if (get_entry(block, order, i) != before[i]) {
                CAPTURE(i);
                FAIL_CHECK("entry changed");
                break;
            }
        }
    }
}

TEST_CASE("set_entry truncates a value to the entry width without spilling over")
{
    for (uint32_t order = 0; order <= 5; ++order) {
        CAPTURE(order);
        std::vector<uint8_t> block(16, 0);
        uint64_t max = refcount::max_refcount(order);
        set_entry(block, order, 1, max + 1); // the lowest bit outside the width
        CHECK(get_entry(block, order, 0) == 0);
        CHECK(get_entry(block, order, 1) == 0);
        CHECK(get_entry(block, order, 2) == 0);
        set_entry(block, order, 1, ~uint64_t{0});
        CHECK(get_entry(block, order, 0) == 0);
        CHECK(get_entry(block, order, 1) == max);
        CHECK(get_entry(block, order, 2) == 0);
    }
}

TEST_CASE("set_entry over a whole block, every order, every entry")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        std::vector<uint8_t> block(512, 0);
        uint64_t entries = 512 * 8 / (1u << order);
        uint64_t max = refcount::max_refcount(order);
        for (uint64_t i = 0; i < entries; ++i)
            set_entry(block, order, i, (i * 2654435761u) & max);
        bool all = true;
        for (uint64_t i = 0; i < entries; ++i)
            all = all && get_entry(block, order, i) == ((i * 2654435761u) & max);
        CHECK(all);
    }
}
