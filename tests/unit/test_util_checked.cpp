#include "util/checked.hpp"

#include <doctest/doctest.h>

#include <limits>

using namespace imgmend::util;

namespace {
constexpr uint64_t max64 = std::numeric_limits<uint64_t>::max();
}

TEST_CASE("checked_add returns the sum or nullopt on overflow")
{
    CHECK(checked_add(0, 0) == 0u);
    CHECK(checked_add(0x1000, 0x234) == 0x1234u);
    CHECK(checked_add(max64, 0) == max64);
    CHECK(checked_add(max64 - 5, 5) == max64);
    CHECK_FALSE(checked_add(max64 - 5, 6).has_value());
    CHECK_FALSE(checked_add(max64, 1).has_value());
    CHECK_FALSE(checked_add(1, max64).has_value());
    CHECK_FALSE(checked_add(max64, max64).has_value());
    CHECK_FALSE(checked_add(uint64_t{1} << 63, uint64_t{1} << 63).has_value());
}

TEST_CASE("checked_mul returns the product or nullopt on overflow")
{
    CHECK(checked_mul(0, max64) == 0u);
    CHECK(checked_mul(max64, 1) == max64);
    CHECK(checked_mul(1u << 16, 1u << 21) == uint64_t{1} << 37);
    CHECK(checked_mul(0xffffffffull, 0xffffffffull) == 0xfffffffe00000001ull);
    CHECK(checked_mul(uint64_t{1} << 32, (uint64_t{1} << 32) - 1) == 0xffffffff00000000ull);
    CHECK_FALSE(checked_mul(uint64_t{1} << 32, uint64_t{1} << 32).has_value());
    CHECK_FALSE(checked_mul(max64, 2).has_value());
    // An image field of 2^32 entries times a large entry size.
    CHECK_FALSE(checked_mul(0x100000000ull, 0x100000000ull * 3).has_value());
}

TEST_CASE("range_within checks [offset, offset + length) against a limit without wrapping")
{
    struct Row {
        uint64_t offset, length, limit;
        bool expected;
    };
    const Row rows[] = {
        {0, 0, 0, true},
        {0, 1, 0, false},
        {10, 5, 15, true},
        {10, 6, 15, false},
        {15, 0, 15, true},   // empty range at the very end
        {16, 0, 15, false},  // empty range past the end
        {0, 15, 15, true},
        {max64, 1, max64, false},   // offset + length wraps to 0
        {1, max64, max64, false},   // wraps as well
        {max64 - 9, 9, max64, true},
        {max64 - 9, 10, max64, false}, // end would be 2^64 exactly
        {0x10000, max64 - 0xffff, max64, false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.offset);
        CAPTURE(r.length);
        CAPTURE(r.limit);
        CHECK(range_within(r.offset, r.length, r.limit) == r.expected);
    }
}

TEST_CASE("align_down and align_up round to multiples")
{
    CHECK(align_down(0, 512) == 0u);
    CHECK(align_down(511, 512) == 0u);
    CHECK(align_down(512, 512) == 512u);
    CHECK(align_down(1000, 512) == 512u);
    CHECK(align_down(max64, 512) == max64 - 511);

    CHECK(align_up(0, 8) == 0u);
    CHECK(align_up(1, 8) == 8u);
    CHECK(align_up(8, 8) == 8u);
    CHECK(align_up(1000, 512) == 1024u);
    CHECK(align_up(0x10001, 0x10000) == 0x20000u);
    CHECK(align_up(max64 - 511, 512) == max64 - 511); // already aligned: fits
    CHECK(align_up(max64 - 1022, 512) == max64 - 511);
    CHECK_FALSE(align_up(max64 - 510, 512).has_value());
    CHECK_FALSE(align_up(max64, 2).has_value());
    CHECK(align_up(max64, 1) == max64);
}

TEST_CASE("div_round_up never overflows")
{
    CHECK(div_round_up(0, 8) == 0u);
    CHECK(div_round_up(1, 8) == 1u);
    CHECK(div_round_up(8, 8) == 1u);
    CHECK(div_round_up(9, 8) == 2u);
    CHECK(div_round_up(max64, 1) == max64);
    CHECK(div_round_up(max64, 2) == uint64_t{1} << 63); // (max + 1) / 2 would wrap
    CHECK(div_round_up(max64, max64) == 1u);
    CHECK(div_round_up(uint64_t{1} << 62, uint64_t{1} << 39) == uint64_t{1} << 23);
}
