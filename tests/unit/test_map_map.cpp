#include "fixtures/doctest_printers.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "fixtures/temp_dir.hpp"
#include "map/map.hpp"
#include "qcow2/l2_entry.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <vector>

using namespace imgmend;
using map::MapEntry;
using util::Errc;

namespace {

MapEntry data_entry(uint64_t start, uint64_t length, uint64_t host)
{
    MapEntry e;
    e.start = start;
    e.length = length;
    e.present = true;
    e.data = true;
    e.offset = host;
    e.filename = "top.qcow2";
    return e;
}

} // namespace

TEST_CASE("can_merge joins adjacent runs with the same attributes and contiguous host offsets")
{
    MapEntry a = data_entry(0, 4096, 0x50000);
    MapEntry b = data_entry(4096, 8192, 0x51000);
    CHECK(can_merge(a, b));

    struct Row {
        const char* name;
        std::function<void(MapEntry&)> change;
    };
    const Row differences[] = {
        {"gap in the guest", [](MapEntry& e) { e.start += 1; }},
        {"overlap in the guest", [](MapEntry& e) { e.start -= 512; }},
        {"host not contiguous", [](MapEntry& e) { e.offset = *e.offset + 512; }},
        {"host going backwards", [](MapEntry& e) { e.offset = 0x40000; }},
        {"no host offset", [](MapEntry& e) { e.offset.reset(); }},
        {"other depth", [](MapEntry& e) { e.depth = 1; }},
        {"not present", [](MapEntry& e) { e.present = false; }},
        {"zero", [](MapEntry& e) { e.zero = true; }},
        {"not data", [](MapEntry& e) { e.data = false; }},
        {"compressed", [](MapEntry& e) { e.compressed = true; }},
        {"other file", [](MapEntry& e) { e.filename = "data.raw"; }},
    };
    for (const Row& r : differences) {
        INFO(std::string(r.name));
        MapEntry next = b;
        r.change(next);
        CHECK_FALSE(can_merge(a, next));
    }

    // Runs without host offsets merge on adjacency alone.
    MapEntry z1, z2;
    z1.start = 0;
    z1.length = 100;
    z1.zero = true;
    z2 = z1;
    z2.start = 100;
    CHECK(can_merge(z1, z2));
    z2.start = 101;
    CHECK_FALSE(can_merge(z1, z2));
}

TEST_CASE("map_chain emits merged runs through a backing chain")
{
    test::TempDir dir;
    {
        test::Qcow2Builder base({.cluster_bits = 12, .size = 1 << 20});
        base.set_l2_entry(0, 0);
        base.write_cluster(4, 0xb4);
        base.write_cluster(5, 0xb5);
        test::write_file(dir.file("base.qcow2"), base.bytes());
        test::Qcow2Builder top({.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.qcow2"});
        top.set_l2_entry(0, 0);
        top.write_cluster(0, 1);
        top.write_cluster(1, 1); // contiguous with cluster 0
        top.set_l2_entry(2, qcow2::oflag_zero);
        top.write_cluster(5, 1); // hides half of the base's run
        test::write_file(dir.file("top.qcow2"), top.bytes());
    }
    auto chain = formats::Chain::open(dir.file("top.qcow2"), {});
    REQUIRE(chain);

    std::vector<MapEntry> got;
    std::vector<uint64_t> progress;
    auto r = map::map_chain(
        *chain, 0, ~uint64_t{0},
        [&](const MapEntry& e) -> util::Result<void> {
            got.push_back(e);
            return {};
        },
        [&](uint64_t done, uint64_t total) {
            CHECK(total == 1 << 20);
            progress.push_back(done);
        });
    REQUIRE(r);
    REQUIRE(got.size() == 6);
    // [0, 8K) local data, [8K, 12K) local zero, [12K, 16K) nothing,
    // [16K, 20K) base data, [20K, 24K) local data, [24K, 1M) nothing.
    CHECK(got[0].start == 0);
    CHECK(got[0].length == 8192);
    CHECK(got[0].data);
    CHECK(got[0].depth == 0);
    CHECK(got[0].filename == dir.file("top.qcow2"));
    CHECK(got[1].zero);
    CHECK(got[1].present);
    CHECK(got[1].length == 4096);
    CHECK_FALSE(got[2].present);
    CHECK(got[2].length == 4096);
    CHECK(got[3].start == 16384);
    CHECK(got[3].depth == 1);
    CHECK(got[3].data);
    CHECK(got[3].filename == dir.file("base.qcow2"));
    CHECK(got[4].start == 20480);
    CHECK(got[4].depth == 0);
    CHECK(got[5].end() == 1 << 20);
    for (size_t i = 1; i < got.size(); ++i) {
        CHECK(got[i].start == got[i - 1].end()); // contiguous, in order
        CHECK_FALSE(can_merge(got[i - 1], got[i])); // and maximal
    }
    REQUIRE_FALSE(progress.empty());
    CHECK(std::is_sorted(progress.begin(), progress.end()));
    CHECK(progress.back() == 1 << 20);

    SUBCASE("a sub-range")
    {
        std::vector<MapEntry> part;
        REQUIRE(map::map_chain(*chain, 4096, 18000, [&](const MapEntry& e) -> util::Result<void> {
            part.push_back(e);
            return {};
        }));
        REQUIRE(part.size() == 4);
        CHECK(part[0].start == 4096);
        CHECK(part[0].length == 4096);
        CHECK(part.back().end() == 18000);
    }
    SUBCASE("an emit error stops the walk and is returned")
    {
        int calls = 0;
        auto stopped = map::map_chain(*chain, 0, 1 << 20, [&](const MapEntry&) -> util::Result<void> {
            if (++calls == 2)
                return util::fail(Errc::io, "stdout closed");
            return {};
        });
        REQUIRE_FALSE(stopped);
        CHECK(stopped.error().message == "stdout closed");
        CHECK(calls == 2);
    }
    SUBCASE("an empty window emits one empty extent, as qemu-img prints it")
    {
        std::vector<MapEntry> empty;
        REQUIRE(map::map_chain(*chain, 4096, 4096, [&](const MapEntry& e) -> util::Result<void> {
            empty.push_back(e);
            return {};
        }));
        REQUIRE(empty.size() == 1);
        CHECK(empty[0].start == 4096);
        CHECK(empty[0].length == 0);
        CHECK_FALSE(empty[0].present);
    }
}
