// ClusterValues (lib/check/cluster_values.cpp): a value per cluster for some
// clusters, sparse while few and packed once many; checked against a
// std::map under the same operations.
#include "check/cluster_values.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <vector>

using imgmend::check::ClusterValues;

namespace {

// Every observable of `v` agrees with `ref`.
void agree(const ClusterValues& v, const std::map<uint64_t, uint64_t>& ref, uint64_t probe_end)
{
    REQUIRE(v.size() == ref.size());
    CHECK(v.empty() == ref.empty());
    std::vector<std::pair<uint64_t, uint64_t>> seen;
    v.for_each([&](uint64_t c, uint64_t value) { seen.emplace_back(c, value); });
    CHECK(seen == std::vector<std::pair<uint64_t, uint64_t>>(ref.begin(), ref.end()));
    for (uint64_t c = 0; c < probe_end; ++c) {
        auto it = ref.find(c);
        auto got = v.find(c);
        REQUIRE(got.has_value() == (it != ref.end()));
        if (got)
            REQUIRE(*got == it->second);
        auto after = ref.lower_bound(c);
        REQUIRE(v.next(c) == (after == ref.end() ? ClusterValues::none : after->first));
        // Bounded: only what lies before the limit.
        uint64_t limit = c + 1 + c % 200;
        REQUIRE(v.next(c, limit) == (after == ref.end() || after->first >= limit ? ClusterValues::none : after->first));
    }
}

} // namespace

TEST_CASE("an empty set has nothing, and next() says none")
{
    ClusterValues v(4, 100);
    CHECK(v.empty());
    CHECK(v.size() == 0);
    CHECK_FALSE(v.find(0));
    CHECK(v.next(0) == ClusterValues::none);
    CHECK(v.next(ClusterValues::none - 1) == ClusterValues::none);
    int calls = 0;
    v.for_each([&](uint64_t, uint64_t) { ++calls; });
    CHECK(calls == 0);
}

TEST_CASE("values set stay found, are overwritten in place, and come out in cluster order")
{
    ClusterValues v(4, 1000);
    v.set(500, 7);
    v.set(3, 0); // zero is a value like any other
    v.set(500, 9);
    CHECK(v.size() == 2);
    CHECK(v.find(3) == 0u);
    CHECK(v.find(500) == 9u);
    CHECK_FALSE(v.contains(4));
    CHECK(v.next(0) == 3);
    CHECK(v.next(4) == 500);
    CHECK(v.next(501) == ClusterValues::none);
}

TEST_CASE("many values: the same answers as a map, sparse and packed, for every width")
{
    for (uint32_t order : {0u, 1u, 3u, 4u, 6u}) {
        CAPTURE(order);
        const uint64_t clusters = 50000;
        const uint64_t max = order == 6 ? ~uint64_t{0} : (uint64_t{1} << (1u << order)) - 1;
        ClusterValues v(order, clusters);
        std::map<uint64_t, uint64_t> ref;
        std::mt19937_64 rng(order + 1);
        // Well past the point where it packs (one cluster in 32), with
        // values up to the width's maximum, 255 and more among them, and a
        // few clusters past the end (always kept aside).
        for (int i = 0; i < 6000; ++i) {
            uint64_t c = rng() % (clusters + 40);
            uint64_t value = rng() % 3 == 0 ? max : (max > 1000 ? rng() % 1000 : rng() % (max + 1));
            v.set(c, value);
            ref[c] = value;
            if (i == 1000 || i == 5999)
                agree(v, ref, clusters + 40);
        }
    }
}

TEST_CASE("a value wider than the width moves aside once packed, and back")
{
    ClusterValues v(0, 4096); // 1-bit width: packed values are 0 or 1
    std::map<uint64_t, uint64_t> ref;
    for (uint64_t c = 0; c < 2000; c += 1) {
        v.set(c, c % 2);
        ref[c] = c % 2;
    }
    v.set(10, 5); // does not fit one bit
    ref[10] = 5;
    agree(v, ref, 4100);
    v.set(10, 1); // fits again
    ref[10] = 1;
    agree(v, ref, 4100);
}

TEST_CASE("packed, it costs about a byte per cluster, not a map node per value")
{
    // 1 M clusters, every other one set: a map would need ~20 MiB; the packed
    // form one byte per cluster plus a bit. Only the answers are observable
    // here, so check them on a sample and the count on all.
    const uint64_t clusters = 1 << 20;
    ClusterValues v(4, clusters);
    for (uint64_t c = 0; c < clusters; c += 2)
        v.set(c, c % 1000);
    CHECK(v.size() == clusters / 2);
    for (uint64_t c = 0; c < clusters; c += 4097)
        CHECK(v.find(c) == (c % 2 == 0 ? std::optional<uint64_t>(c % 1000) : std::nullopt));
    uint64_t n = 0, last = 0;
    bool ordered = true;
    v.for_each([&](uint64_t c, uint64_t) {
        ordered &= n == 0 || c > last;
        last = c;
        ++n;
    });
    CHECK(n == clusters / 2);
    CHECK(ordered);
}
