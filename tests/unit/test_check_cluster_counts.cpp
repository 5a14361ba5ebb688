// In-memory reference counts (lib/check/cluster_counts.cpp): packed narrow
// widths, one byte per cluster with the escape value 255 and its side map for
// the wider ones, saturation at each width's maximum, and growth.
#include "check/cluster_counts.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace imgmend;
using check::ClusterCounts;

namespace {

// The largest refcount of each width, 1 << order bits (from the qcow2
// specification, not from the class under test).
constexpr uint64_t width_max[] = {1, 3, 15, 255, 65535, 0xffffffffull, ~uint64_t{0}};

// A deterministic stream of numbers for model-based checks.
struct Lcg {
    uint64_t state;
    uint64_t next()
    {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return state >> 11;
    }
};

// Values that exercise the interesting places of a width: 0, 1, around 255
// (the escape), and the maximum.
std::vector<uint64_t> probe_values(uint32_t order)
{
    std::vector<uint64_t> out;
    for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{253}, uint64_t{254}, uint64_t{255},
                       uint64_t{256}, uint64_t{1000}, width_max[order] - 1, width_max[order]})
        if (v <= width_max[order])
            out.push_back(v);
    return out;
}

} // namespace

TEST_CASE("every width: starts at zero, reports its maximum, keeps what is set")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        const uint64_t clusters = 200; // several 64-bit words at the packed widths
        ClusterCounts c(order, clusters);
        CHECK(c.size() == clusters);
        CHECK(c.max_value() == width_max[order]);
        for (uint64_t k = 0; k < clusters; ++k)
            REQUIRE(c.get(k) == 0);

        // Distinct values everywhere, then read back: no entry spills into its
        // neighbours (the packed widths share words, byte widths the side map).
        std::vector<uint64_t> model(clusters);
        Lcg rng{order + 1};
        for (uint64_t k = 0; k < clusters; ++k) {
            auto probes = probe_values(order);
            model[k] = k % 3 == 0 ? probes[k / 3 % probes.size()] : rng.next() % width_max[order];
            c.set(k, model[k]);
        }
        for (uint64_t k = 0; k < clusters; ++k) {
            CAPTURE(k);
            CHECK(c.get(k) == model[k]);
        }
    }
}

TEST_CASE("narrow widths: entries at word boundaries are independent")
{
    for (uint32_t order = 0; order <= 2; ++order) {
        CAPTURE(order);
        const uint64_t per_word = 64 >> order;
        ClusterCounts c(order, 3 * per_word + 1); // the last entry alone in its word
        for (uint64_t k : {per_word - 1, per_word, 2 * per_word - 1, 3 * per_word}) {
            CAPTURE(k);
            c.set(k, width_max[order]);
            CHECK(c.get(k) == width_max[order]);
            CHECK(c.get(k - 1) == 0);
            if (k + 1 < c.size())
                CHECK(c.get(k + 1) == 0);
            c.set(k, 0);
            CHECK(c.get(k) == 0);
        }
        CHECK(c.bytes() == nullptr);
        CHECK(c.mutable_bytes() == nullptr);
    }
}

TEST_CASE("set keeps only the entry's width, without touching its neighbours")
{
    // As a refcount entry stores it: the value modulo 2^width.
    for (uint32_t order = 0; order <= 5; ++order) {
        CAPTURE(order);
        ClusterCounts c(order, 130);
        c.set(64, width_max[order] + 1 + 2); // one wrap past the maximum
        CHECK(c.get(64) == (order == 0 ? 0u : 2u)); // 2^w + 2 modulo 2^w
        c.set(65, ~uint64_t{0});
        CHECK(c.get(65) == width_max[order]);
        CHECK(c.get(63) == 0);
        CHECK(c.get(66) == 0);
    }
    ClusterCounts wide(6, 4);
    wide.set(1, ~uint64_t{0});
    CHECK(wide.get(1) == ~uint64_t{0});
    CHECK(wide.get(0) == 0);
    CHECK(wide.get(2) == 0);
}

TEST_CASE("increment counts up to the width's maximum, then refuses and changes nothing")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        ClusterCounts c(order, 70);
        const uint64_t k = 65; // second word of the packed widths
        if (width_max[order] <= 65535) {
            // Every step, through the escape value at the byte widths.
            for (uint64_t v = 1; v <= width_max[order]; ++v) {
                REQUIRE(c.increment(k));
                REQUIRE(c.get(k) == v);
            }
        } else {
            c.set(k, width_max[order] - 1);
            REQUIRE(c.increment(k));
            CHECK(c.get(k) == width_max[order]);
        }
        CHECK_FALSE(c.increment(k));
        CHECK(c.get(k) == width_max[order]);
        CHECK_FALSE(c.increment(k));
        CHECK(c.get(k) == width_max[order]);
        CHECK(c.get(k - 1) == 0);
        CHECK(c.get(k + 1) == 0);
    }
}

TEST_CASE("8-bit refcounts: the byte is the count, 255 included, and 255 is the maximum")
{
    ClusterCounts c(3, 8);
    REQUIRE(c.bytes() != nullptr);
    CHECK(c.bytes() == c.mutable_bytes());
    c.set(2, 255);
    CHECK(c.get(2) == 255);
    CHECK(c.bytes()[2] == 255);
    CHECK_FALSE(c.increment(2));
    c.set(3, 254);
    CHECK(c.increment(3));
    CHECK(c.bytes()[3] == 255);
    CHECK(c.get(3) == 255);
    c.set(3, 256); // wraps as an 8-bit entry would
    CHECK(c.get(3) == 0);
}

TEST_CASE("wider refcounts: the escape byte and the side map")
{
    for (uint32_t order = 4; order <= 6; ++order) {
        CAPTURE(order);
        ClusterCounts c(order, 8);
        REQUIRE(c.bytes() != nullptr);
        const uint8_t* bytes = c.bytes();

        SUBCASE("below the escape the byte is the count")
        {
            c.set(1, 254);
            CHECK(bytes[1] == 254);
            CHECK(c.get(1) == 254);
        }
        SUBCASE("255 and more are kept aside behind the escape byte")
        {
            c.set(1, 255);
            CHECK(bytes[1] == ClusterCounts::escape);
            CHECK(c.get(1) == 255);
            c.set(2, 40000);
            CHECK(bytes[2] == ClusterCounts::escape);
            CHECK(c.get(2) == 40000);
            CHECK(c.get(1) == 255); // each cluster has its own entry
            CHECK(c.get(0) == 0);
            CHECK(c.get(3) == 0);
        }
        SUBCASE("a count set back below 255 leaves the side map")
        {
            c.set(1, 1000);
            c.set(1, 7);
            CHECK(bytes[1] == 7);
            CHECK(c.get(1) == 7);
            c.set(1, 300);
            CHECK(c.get(1) == 300);
            c.set(1, 0);
            CHECK(c.get(1) == 0);
            CHECK(bytes[1] == 0);
        }
        SUBCASE("increment crosses into the side map and continues there")
        {
            c.set(5, 253);
            CHECK(c.increment(5));
            CHECK(bytes[5] == 254);
            CHECK(c.increment(5));
            CHECK(bytes[5] == ClusterCounts::escape);
            CHECK(c.get(5) == 255);
            CHECK(c.increment(5));
            CHECK(c.get(5) == 256);
            CHECK(bytes[5] == ClusterCounts::escape);
            c.set(5, width_max[order] - 1);
            CHECK(c.increment(5));
            CHECK_FALSE(c.increment(5));
            CHECK(c.get(5) == width_max[order]);
        }
        SUBCASE("bytes written directly are what get returns")
        {
            // The data-cluster fast path increments these bytes itself, below the escape.
            c.mutable_bytes()[6] = 200;
            CHECK(c.get(6) == 200);
            CHECK(c.increment(6));
            CHECK(c.get(6) == 201);
        }
    }
}

TEST_CASE("grow keeps the counts and adds zeros; it never shrinks")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        ClusterCounts c(order, 10);
        c.set(0, 1);
        c.set(9, width_max[order]);
        if (order >= 4)
            c.set(8, 1000);
        c.grow(10);
        CHECK(c.size() == 10);
        c.grow(3);
        CHECK(c.size() == 10);
        CHECK(c.get(9) == width_max[order]);

        c.grow(11); // within the same packed word
        CHECK(c.size() == 11);
        CHECK(c.get(10) == 0);
        c.grow(1000); // many words further
        CHECK(c.size() == 1000);
        CHECK(c.get(0) == 1);
        CHECK(c.get(9) == width_max[order]);
        if (order >= 4)
            CHECK(c.get(8) == 1000);
        for (uint64_t k = 10; k < 1000; ++k)
            REQUIRE(c.get(k) == 0);
        CHECK(c.increment(999));
        CHECK(c.get(999) == 1);
        CHECK(c.get(998) == 0);
        if (order >= 3)
            CHECK(c.bytes()[999] == 1);
    }
}

TEST_CASE("an empty table grows from nothing")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        ClusterCounts c(order, 0);
        CHECK(c.size() == 0);
        c.grow(1);
        CHECK(c.size() == 1);
        CHECK(c.get(0) == 0);
        CHECK(c.increment(0));
        CHECK(c.get(0) == 1);
    }
}

TEST_CASE("every width agrees with a plain model over random sets and increments")
{
    for (uint32_t order = 0; order <= 6; ++order) {
        CAPTURE(order);
        const uint64_t clusters = 97;
        ClusterCounts c(order, clusters);
        std::vector<uint64_t> model(clusters, 0);
        Lcg rng{0x5eed + order};
        for (int step = 0; step < 20000; ++step) {
            uint64_t k = rng.next() % clusters;
            uint64_t op = rng.next() % 8;
            if (op == 0) {
                // Mostly near the escape and the maximum, where the storage changes.
                auto probes = probe_values(order);
                uint64_t v = probes[rng.next() % probes.size()];
                c.set(k, v);
                model[k] = v;
            } else {
                bool room = model[k] < width_max[order];
                REQUIRE(c.increment(k) == room);
                model[k] += room;
            }
            REQUIRE(c.get(k) == model[k]);
        }
        for (uint64_t k = 0; k < clusters; ++k)
            CHECK(c.get(k) == model[k]);
    }
}
