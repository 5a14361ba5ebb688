#include "map/totals.hpp"

#include <doctest/doctest.h>

using namespace imgmend;
using map::MapEntry;

namespace {

MapEntry entry(uint64_t start, uint64_t length, int depth, bool present, bool data, bool zero,
               std::optional<uint64_t> offset = {}, bool compressed = false)
{
    MapEntry e;
    e.start = start;
    e.length = length;
    e.depth = depth;
    e.present = present;
    e.data = data;
    e.zero = zero;
    e.offset = offset;
    e.compressed = compressed;
    return e;
}

} // namespace

TEST_CASE("Totals sorts bytes into classes")
{
    map::Totals t;
    t.add(entry(0, 100, 0, true, true, false, 0x10000));          // local data
    t.add(entry(100, 200, 1, true, true, false, 0x20000));        // backing data
    t.add(entry(300, 50, 0, true, false, true));                  // local zero
    t.add(entry(350, 70, 2, true, false, true, 0x30000));         // backing zero, preallocated
    t.add(entry(420, 1000, 0, false, false, true));               // nothing anywhere
    t.add(entry(1420, 30, 0, true, true, false, {}, true));       // local compressed
    t.add(entry(1450, 40, 1, true, true, false, {}, true));       // backing compressed
    t.add(entry(1490, 5, 0, true, true, true, 0x40000));          // data that reads as zero
    CHECK(t.data_local == 100 + 30);
    CHECK(t.data_backing == 200 + 40);
    CHECK(t.zero == 50 + 70 + 5);
    CHECK(t.unallocated == 1000);
    CHECK(t.compressed == 70);
    CHECK(t.data_local + t.data_backing + t.zero + t.unallocated == 1495);
}

TEST_CASE("Totals counts local extents and fragmentation")
{
    SUBCASE("no local data")
    {
        map::Totals t;
        t.add(entry(0, 100, 1, true, true, false, 0x1000));
        CHECK(t.local_extents == 0);
        CHECK(t.fragmentation_percent() == 0.0);
    }
    SUBCASE("contiguous extents are not fragmented")
    {
        map::Totals t;
        t.add(entry(0, 4096, 0, true, true, false, 0x10000));
        t.add(entry(4096, 4096, 0, true, false, true)); // zero between does not count
        t.add(entry(8192, 4096, 0, true, true, false, 0x11000));
        CHECK(t.local_extents == 2);
        CHECK(t.fragmented_extents == 0);
        CHECK(t.fragmentation_percent() == 0.0);
    }
    SUBCASE("jumps on the host are fragments")
    {
        map::Totals t;
        t.add(entry(0, 4096, 0, true, true, false, 0x10000));
        t.add(entry(4096, 4096, 0, true, true, false, 0x30000)); // jump forward
        t.add(entry(8192, 4096, 0, true, true, false, 0x31000)); // continues
        t.add(entry(12288, 4096, 0, true, true, false, 0x20000)); // jump back
        t.add(entry(16384, 4096, 0, true, true, false, {}, true)); // compressed: no extent
        CHECK(t.local_extents == 4);
        CHECK(t.fragmented_extents == 2);
        CHECK(t.fragmentation_percent() == doctest::Approx(50.0));
    }
}
