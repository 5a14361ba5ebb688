// The snapshot table rewrite of -r all (lib/repair/snapshot_fix.cpp): what
// it plans, in which order, and that every crash leaves a sound image.
#include "fixtures/doctest_printers.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "fixtures/repair_fixture.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace imgmend;
using repair::RepairMode;

namespace {

// The builder's image with one snapshot that has no L1 table and no extra
// data: an incomplete version 3 entry.
struct Incomplete {
    test::Qcow2Builder b;
    uint64_t table = 0;
    std::vector<uint8_t> bytes;
    Incomplete()
    {
        b.write_cluster(0, 0x11);
        std::vector<uint8_t> entry(48, 0); // 40 + id "1" + name "s1", padded
        util::store_be16(entry, 12, 1);
        util::store_be16(entry, 14, 2);
        entry[40] = '1';
        entry[41] = 's';
        entry[42] = '1';
        table = b.add_blob(entry);
        b.set_snapshots(1, table);
        bytes = b.bytes();
    }
};

long index_of(const io::Plan& plan, std::string_view what)
{
    const auto& steps = plan.steps();
    auto it = std::find_if(steps.begin(), steps.end(),
                           [&](const io::Step& s) { return s.what.find(what) != std::string::npos; });
    return it == steps.end() ? -1 : static_cast<long>(it - steps.begin());
}

} // namespace

TEST_CASE("an incomplete entry: the table is written elsewhere, then the header switches, then the old is freed")
{
    Incomplete img;
    CHECK(test::check_bytes(img.bytes).corruptions == 1);
    test::Planned p = test::plan_bytes(img.bytes, RepairMode::all);
    REQUIRE(p.outcome);
    CHECK(p.dev->writes().empty()); // planning writes nothing
    CHECK(p.outcome->corruptions_fixed == 1);
    CHECK(p.outcome->leaks_fixed == 0);
    const io::Plan& plan = p.outcome->plan;
    long raise = index_of(plan, "refcount block (new snapshot table)");
    long table = index_of(plan, "new snapshot table (1 entries)");
    long flush = index_of(plan, "new snapshot table on disk before the switch");
    long header = index_of(plan, "header nb_snapshots and snapshots_offset");
    long lower = index_of(plan, "refcount block (old snapshot table)");
    auto discard = std::find_if(plan.steps().begin(), plan.steps().end(),
                                [](const io::Step& s) { return s.kind == io::Step::Kind::discard; }) -
                   plan.steps().begin();
    REQUIRE(raise >= 0);
    CHECK(raise < flush);
    CHECK(table < flush);
    CHECK(flush < header);
    CHECK(header < lower);
    CHECK(plan.steps()[static_cast<size_t>(lower) - 1].kind == io::Step::Kind::flush);
    CHECK(discard > lower);
    // The old table is never written before the switch.
    CHECK(std::none_of(plan.steps().begin(), plan.steps().begin() + header, [&](const io::Step& s) {
        return s.kind == io::Step::Kind::write && s.offset < img.table + 65536 && s.offset + s.data.size() > img.table;
    }));

    auto fixed = test::repaired(img.bytes, RepairMode::all);
    CHECK(test::clean(test::check_bytes(fixed)));
    CHECK(test::guest_view(fixed) == test::guest_view(img.bytes));
    uint64_t moved = util::load_be64(fixed, 64);
    CHECK(moved != img.table);
    CHECK(util::load_be32(fixed, moved + 36) == 24); // filled in
    CHECK(util::load_be64(fixed, moved + 48) == 4ull << 20); // disk size
}

TEST_CASE("a crash after any write leaves the damage no worse, and a second run ends clean")
{
    Incomplete img;
    size_t n = test::device_writes(img.bytes, RepairMode::all);
    REQUIRE(n >= 3);
    for (size_t i = 0; i <= n; ++i) {
        CAPTURE(i);
        auto [written, flushed] = test::crashed(img.bytes, RepairMode::all, i);
        for (const auto& state : {written, flushed}) {
            auto report = test::check_bytes(state);
            CHECK(report.corruptions <= 1); // at most the incomplete entry
            CHECK(test::guest_view(state) == test::guest_view(img.bytes));
            CHECK(test::clean(test::check_bytes(test::repaired(state, RepairMode::all))));
        }
    }
}

TEST_CASE("-r leaks leaves the table alone and says so")
{
    Incomplete img;
    test::Planned p = test::plan_bytes(img.bytes, RepairMode::leaks);
    REQUIRE(p.outcome);
    CHECK_FALSE(test::touches(p.outcome->plan, 60, 12));
    CHECK(std::any_of(p.outcome->refused.begin(), p.outcome->refused.end(), [](const std::string& s) {
        return s.find("-r all rewrites the snapshot table") != std::string::npos;
    }));
}

TEST_CASE("a table sharing a cluster with other metadata is left alone")
{
    Incomplete img;
    // The snapshot table claims to start in the header cluster.
    util::store_be64(img.bytes, 64, 0);
    test::Planned p = test::plan_bytes(img.bytes, RepairMode::all);
    REQUIRE(p.outcome);
    CHECK_FALSE(test::touches(p.outcome->plan, 60, 12));
    CHECK(std::any_of(p.outcome->refused.begin(), p.outcome->refused.end(), [](const std::string& s) {
        return s.find("left alone: the snapshot table at 0x0: it shares cluster 0") != std::string::npos;
    }));
}
