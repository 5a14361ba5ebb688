// Repair planning (lib/repair/repair.cpp): in-place refcount fixes, COPIED
// flags, header bits, what is refused, and the order of the writes.
#include "fixtures/doctest_printers.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "fixtures/repair_fixture.hpp"
#include "qcow2/l2_entry.hpp"
#include "refcount/refcount_block.hpp"
#include "repair/planner.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace imgmend;
using repair::RepairMode;
using test::check_bytes;
using test::clean;
using test::guest_view;
using test::plan_bytes;
using test::repaired;

namespace {

constexpr uint64_t cs = 65536;

// The builder's reference image: data for guest clusters 0 and 16 (host
// clusters 4 and 6), one L2 table (host cluster 5).
struct Base {
    test::Qcow2Builder b;
    uint64_t data0, l2, data16;
    Base()
    {
        data0 = b.write_cluster(0, 0x11);
        l2 = b.l2_offset(0);
        data16 = b.write_cluster(16, 0x22);
    }
};

uint64_t refcount_in(const std::vector<uint8_t>& bytes, uint64_t refblock, uint64_t cluster)
{
    return refcount::get_entry(std::span<const uint8_t>(bytes).subspan(refblock, cs), 4, cluster);
}

bool has_refusal(const repair::RepairOutcome& o, std::string_view text)
{
    return std::any_of(o.refused.begin(), o.refused.end(),
                       [&](const std::string& s) { return s.find(text) != std::string::npos; });
}

// Index of the first plan step writing into [offset, offset + length), or -1.
long first_write_into(const io::Plan& plan, uint64_t offset, uint64_t length)
{
    const auto& steps = plan.steps();
    for (size_t i = 0; i < steps.size(); ++i)
        if (steps[i].kind == io::Step::Kind::write && steps[i].offset < offset + length &&
            steps[i].offset + steps[i].data.size() > offset)
            return static_cast<long>(i);
    return -1;
}

} // namespace

TEST_CASE("plan_repair writes nothing, and a clean image plans nothing")
{
    Base base;
    auto clean_bytes = base.b.bytes();
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        auto p = plan_bytes(clean_bytes, mode);
        REQUIRE(p.outcome);
        CHECK(p.outcome->plan.writes() == 0);
        CHECK(p.outcome->leaks_fixed == 0);
        CHECK(p.outcome->corruptions_fixed == 0);
        CHECK(p.outcome->refused.empty());
        CHECK_FALSE(p.outcome->rebuild);
    }
    base.b.set_refcount(base.data0 / cs, 0);
    auto p = plan_bytes(base.b.bytes(), RepairMode::all);
    REQUIRE(p.outcome);
    CHECK(p.outcome->plan.writes() > 0);
    CHECK(p.dev->writes().empty());
    CHECK(p.dev->bytes() == base.b.bytes());
}

TEST_CASE("a refcount too high is lowered in place by both modes")
{
    Base base;
    base.b.set_refcount(base.data0 / cs, 2);
    auto damaged = base.b.bytes();
    REQUIRE(check_bytes(damaged).leaks == 1);
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        CAPTURE(static_cast<int>(mode));
        auto p = plan_bytes(damaged, mode);
        REQUIRE(p.outcome);
        CHECK(p.outcome->leaks_fixed == 1);
        CHECK(p.outcome->corruptions_fixed == 0);
        CHECK_FALSE(p.outcome->rebuild);
        // One sector of the refcount block, nothing else.
        REQUIRE(p.outcome->plan.writes() == 1);
        CHECK(first_write_into(p.outcome->plan, base.b.refblock_offset(), 512) >= 0);
        auto after = repaired(damaged, mode);
        CHECK(clean(check_bytes(after)));
        CHECK(refcount_in(after, base.b.refblock_offset(), base.data0 / cs) == 1);
        CHECK(guest_view(after) == guest_view(damaged));
    }
}

TEST_CASE("a leaked cluster is freed and discarded only after its refcount is on disk")
{
    Base base;
    uint64_t leaked = base.b.allocate_cluster();
    auto bytes = base.b.bytes();
    std::fill_n(bytes.begin() + static_cast<ptrdiff_t>(leaked), 16, 0x77);
    auto p = plan_bytes(bytes, RepairMode::leaks);
    REQUIRE(p.outcome);
    CHECK(p.outcome->leaks_fixed == 1);
    const auto& steps = p.outcome->plan.steps();
    auto discard = std::find_if(steps.begin(), steps.end(), [](const io::Step& s) { return s.kind == io::Step::Kind::discard; });
    REQUIRE(discard != steps.end());
    CHECK(discard->offset == leaked);
    CHECK(discard->length == cs);
    // The refcount write, then a flush, before the discard.
    long w = first_write_into(p.outcome->plan, base.b.refblock_offset(), cs);
    REQUIRE(w >= 0);
    bool flushed_between = false;
    for (auto it = steps.begin() + w; it != discard; ++it)
        flushed_between |= it->kind == io::Step::Kind::flush;
    CHECK(flushed_between);
    auto after = repaired(bytes, RepairMode::leaks);
    CHECK(clean(check_bytes(after)));
    CHECK(after[leaked] == 0);
    CHECK(after.size() == bytes.size()); // no truncation
}

TEST_CASE("refcount 0 on a used cluster: -r leaks plans nothing, -r all rebuilds")
{
    Base base;
    base.b.set_refcount(base.l2 / cs, 0);
    auto damaged = base.b.bytes();
    auto leaks = plan_bytes(damaged, RepairMode::leaks);
    REQUIRE(leaks.outcome);
    CHECK(leaks.outcome->plan.writes() == 0);
    CHECK_FALSE(leaks.outcome->rebuild);
    CHECK(leaks.outcome->corruptions_fixed == 0);

    auto all = plan_bytes(damaged, RepairMode::all);
    REQUIRE(all.outcome);
    CHECK(all.outcome->rebuild);
    CHECK(all.outcome->corruptions_fixed == 1);
    auto after = repaired(damaged, RepairMode::all);
    CHECK(clean(check_bytes(after)));
    CHECK(guest_view(after) == guest_view(damaged));
}

TEST_CASE("OFLAG_COPIED is set back from the refcount, in L1 and in L2 entries")
{
    Base base;
    auto bytes = base.b.bytes();
    SUBCASE("L2 entry")
    {
        uint64_t at = base.l2; // guest cluster 0's entry
        util::store_be64(bytes, at, util::load_be64(bytes, at) & ~qcow2::oflag_copied);
    }
    SUBCASE("L1 entry")
    {
        uint64_t at = base.b.l1_offset();
        util::store_be64(bytes, at, util::load_be64(bytes, at) & ~qcow2::oflag_copied);
    }
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        auto p = plan_bytes(bytes, mode);
        REQUIRE(p.outcome);
        CHECK(p.outcome->corruptions_fixed == 1);
        CHECK(p.outcome->plan.writes() == 1);
        auto after = repaired(bytes, mode);
        CHECK(clean(check_bytes(after)));
        CHECK(after == base.b.bytes());
    }
}

TEST_CASE("-r leaks leaves OFLAG_COPIED alone when something else stays wrong; -r all fixes it")
{
    Base base;
    auto bytes = base.b.bytes();
    util::store_be64(bytes, base.l2, util::load_be64(bytes, base.l2) & ~qcow2::oflag_copied);
    uint64_t e16 = base.l2 + 16 * 8;
    util::store_be64(bytes, e16, util::load_be64(bytes, e16) | 0x100); // a reserved bit
    auto leaks = plan_bytes(bytes, RepairMode::leaks);
    REQUIRE(leaks.outcome);
    CHECK(leaks.outcome->plan.writes() == 0);
    auto all = plan_bytes(bytes, RepairMode::all);
    REQUIRE(all.outcome);
    CHECK(all.outcome->corruptions_fixed == 1);
    CHECK(has_refusal(*all.outcome, "left alone: ERROR found l2 entry with reserved bits set"));
    auto after = repaired(bytes, RepairMode::all);
    CHECK((util::load_be64(after, base.l2) & qcow2::oflag_copied) != 0);
    CHECK((util::load_be64(after, e16) & 0x100) != 0); // still there: not ours to guess
}

TEST_CASE("reserved bits are refused with a reason and nothing is written")
{
    Base base;
    auto bytes = base.b.bytes();
    SUBCASE("in an L2 entry")
    {
        util::store_be64(bytes, base.l2, util::load_be64(bytes, base.l2) | 0x0100000000000000ull);
    }
    SUBCASE("in an L1 entry")
    {
        uint64_t at = base.b.l1_offset();
        util::store_be64(bytes, at, util::load_be64(bytes, at) | 0x1);
    }
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        auto p = plan_bytes(bytes, mode);
        REQUIRE(p.outcome);
        CHECK(p.outcome->plan.writes() == 0);
        CHECK(has_refusal(*p.outcome, "left alone: ERROR found"));
        CHECK(has_refusal(*p.outcome, "reserved bits set"));
    }
}

TEST_CASE("a data cluster orphaned by a pointer past the end of the file is kept")
{
    Base base;
    auto bytes = base.b.bytes();
    util::store_be64(bytes, base.l2 + 16 * 8, qcow2::oflag_copied | 0x1000000);
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        auto p = plan_bytes(bytes, mode);
        REQUIRE(p.outcome);
        CHECK(has_refusal(*p.outcome, "kept: leaked cluster " + std::to_string(base.data16 / cs)));
        auto after = repaired(bytes, mode);
        CHECK(refcount_in(after, base.b.refblock_offset(), base.data16 / cs) == 1);
        CHECK(after[base.data16] == 0x22); // not discarded
    }
}

TEST_CASE("two entries for one data cluster are refused, not shared")
{
    Base base;
    auto bytes = base.b.bytes();
    util::store_be64(bytes, base.l2 + 8, util::load_be64(bytes, base.l2)); // guest cluster 1 -> data0
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        auto p = plan_bytes(bytes, mode);
        REQUIRE(p.outcome);
        CHECK(p.outcome->plan.writes() == 0);
        CHECK(has_refusal(*p.outcome, "contradicting users"));
    }
}

TEST_CASE("the dirty bit is cleared last, once the refcounts are right")
{
    Base base;
    base.b.set_refcount(base.data16 / cs, 2);
    auto bytes = base.b.bytes();
    util::store_be64(bytes, 72, qcow2::incompat_dirty);
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        CAPTURE(static_cast<int>(mode));
        auto p = plan_bytes(bytes, mode);
        REQUIRE(p.outcome);
        const auto& steps = p.outcome->plan.steps();
        long header = first_write_into(p.outcome->plan, 72, 8);
        long refblock = first_write_into(p.outcome->plan, base.b.refblock_offset(), cs);
        // qemu-img clears it with either mode: the COPIED error that came
        // with the leak is gone once the refcount is 1.
        CHECK(header >= 0);
        REQUIRE(refblock >= 0);
        if (header >= 0) {
            CHECK(refblock < header);
            CHECK(std::any_of(steps.begin() + refblock, steps.begin() + header,
                              [](const io::Step& s) { return s.kind == io::Step::Kind::flush; }));
        }
        auto after = repaired(bytes, mode);
        CHECK(util::load_be64(after, 72) == 0);
        CHECK(clean(check_bytes(after)));
    }
}

TEST_CASE("the corrupt bit: -r all clears it on a consistent image")
{
    Base base;
    auto bytes = base.b.bytes();
    util::store_be64(bytes, 72, qcow2::incompat_corrupt);
    auto after = repaired(bytes, RepairMode::all);
    CHECK(util::load_be64(after, 72) == 0);
    // qemu-img clears it with -r leaks too ("any -r that ends without
    // corruptions").
    auto after_leaks = repaired(bytes, RepairMode::leaks);
    CHECK(util::load_be64(after_leaks, 72) == 0);
}

TEST_CASE("a reserved bit in a refcount table entry: -r leaks must not free the refcount block")
{
    // qemu-img: "need to rebuild", nothing written. The block is still the
    // one every refcount is read through; lowering its own refcount and
    // discarding it zeroes every refcount of the image.
    Base base;
    auto bytes = base.b.bytes();
    uint64_t rt = base.b.reftable_offset();
    util::store_be64(bytes, rt, util::load_be64(bytes, rt) | 1);
    auto p = plan_bytes(bytes, RepairMode::leaks);
    REQUIRE(p.outcome);
    CHECK(p.outcome->plan.writes() == 0);
    CHECK(first_write_into(p.outcome->plan, base.b.refblock_offset(), cs) == -1);
    auto after = repaired(bytes, RepairMode::leaks);
    CHECK(check_bytes(after).corruptions <= check_bytes(bytes).corruptions);
    // -r all rebuilds.
    auto fixed = repaired(bytes, RepairMode::all);
    CHECK(clean(check_bytes(fixed)));
}

TEST_CASE("an unaligned L1 entry: nothing is written into what it points at")
{
    // The "L2 table" read from L2 + 0x200 ends in the first 512 bytes of the
    // next cluster, guest data here. Its entries must not be "repaired".
    test::Qcow2Builder b;
    b.write_cluster(0, 0x11); // data 4, L2 5
    uint64_t l2 = b.l2_offset(0);
    uint64_t next = b.write_cluster(1, 0x11); // data right after the L2 table
    REQUIRE(next == l2 + cs);
    auto bytes = b.bytes();
    uint64_t at = b.l1_offset();
    util::store_be64(bytes, at, util::load_be64(bytes, at) | 0x200);
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        CAPTURE(static_cast<int>(mode));
        auto p = plan_bytes(bytes, mode);
        REQUIRE(p.outcome);
        CHECK(first_write_into(p.outcome->plan, next, cs) == -1);
        CHECK(has_refusal(*p.outcome, "Table is not cluster aligned"));
    }
}

TEST_CASE("a crash after any write of an in-place repair adds no corruption")
{
    Base base;
    base.b.set_refcount(base.data0 / cs, 2);        // a leak
    uint64_t leaked = base.b.allocate_cluster();    // an orphan
    (void)leaked;
    auto bytes = base.b.bytes();
    uint64_t e16 = base.l2 + 16 * 8;
    util::store_be64(bytes, e16, util::load_be64(bytes, e16) & ~qcow2::oflag_copied); // COPIED
    util::store_be64(bytes, 72, qcow2::incompat_dirty);
    const auto before = check_bytes(bytes);
    const auto view = guest_view(bytes);
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        size_t n = test::device_writes(bytes, mode);
        REQUIRE(n >= 3);
        for (size_t i = 0; i <= n; ++i) {
            CAPTURE(i);
            auto [written, durable] = test::crashed(bytes, mode, i);
            for (const auto* state : {&written, &durable}) {
                auto r = check_bytes(*state);
                CHECK(r.corruptions <= before.corruptions);
                CHECK(r.check_errors == 0);
                CHECK(guest_view(*state) == view);
            }
        }
    }
}

TEST_CASE("findings past the listed limit are still repaired and counted")
{
    // 40 leaked clusters and a data cluster whose refcount is 0 (a rebuild
    // with -r all), found with only 5 findings kept in full.
    Base base;
    std::vector<uint64_t> leaked;
    for (int i = 0; i < 40; ++i)
        leaked.push_back(base.b.allocate_cluster());
    auto leaky = base.b.bytes();
    check::CheckOptions options;
    options.listed_findings = 5;
    for (RepairMode mode : {RepairMode::leaks, RepairMode::all}) {
        CAPTURE(static_cast<int>(mode));
        auto dev = std::make_shared<io::MemoryDevice>(leaky);
        auto image = qcow2::Image::open(dev);
        REQUIRE(image);
        auto outcome = repair::plan_repair(**image, mode, options);
        REQUIRE(outcome);
        CHECK(outcome->before.leaks == 40);
        CHECK(outcome->before.findings.size() == 5);
        CHECK(outcome->before.unlisted == 35);
        CHECK(outcome->leaks_fixed == 40);
        CHECK(outcome->refused.empty());
        // The 40 adjacent clusters go in one discard.
        uint64_t discarded = 0;
        for (const io::Step& s : outcome->plan.steps())
            if (s.kind == io::Step::Kind::discard)
                discarded += s.length;
        CHECK(discarded == 40 * cs);
        REQUIRE(io::execute(outcome->plan, *dev, nullptr));
        CHECK(clean(check_bytes(dev->bytes())));
        CHECK(guest_view(dev->bytes()) == guest_view(leaky));
    }

    base.b.set_refcount(base.data16 / cs, 0);
    auto zero = base.b.bytes();
    auto dev = std::make_shared<io::MemoryDevice>(zero);
    auto image = qcow2::Image::open(dev);
    REQUIRE(image);
    auto outcome = repair::plan_repair(**image, RepairMode::all, options);
    REQUIRE(outcome);
    CHECK(outcome->rebuild);
    CHECK(outcome->before.corruptions == 2); // refcount 0 and OFLAG_COPIED set
    CHECK(outcome->before.unlisted == 37);
    CHECK(outcome->leaks_fixed == 40);
    CHECK(outcome->corruptions_fixed == 1);
    REQUIRE(io::execute(outcome->plan, *dev, nullptr));
    CHECK(clean(check_bytes(dev->bytes())));
    CHECK(guest_view(dev->bytes()) == guest_view(zero));
}

TEST_CASE("an unrepairable problem past the listed limit still stops the repair from claiming success")
{
    // Reserved bits in two L2 entries (no repair mode fixes them); only the
    // first is listed.
    Base base;
    auto bytes = base.b.bytes();
    bytes[base.l2 + 0 * 8 + 7] |= 0x02;  // bit 1 of guest cluster 0's entry: reserved
    bytes[base.l2 + 16 * 8 + 7] |= 0x02; // and of guest cluster 16's
    check::CheckOptions options;
    options.listed_findings = 1;
    auto image = qcow2::Image::open(std::make_shared<io::MemoryDevice>(bytes));
    REQUIRE(image);
    auto outcome = repair::plan_repair(**image, RepairMode::all, options);
    REQUIRE(outcome);
    REQUIRE(outcome->before.count(check::FindingKind::l2_reserved_bits) == 2);
    CHECK(outcome->before.unlisted_unrepairable == 1);
    CHECK(has_refusal(*outcome, "which no repair mode fixes"));
}

TEST_CASE("freed runs: adjacent clusters merge, short closed runs are dropped, order does not matter")
{
    // 4 KiB clusters: a discard needs 16 of them (min_discard_bytes).
    repair::FreedRuns freed(4096);
    for (uint64_t c = 100; c < 120; ++c) // 20: kept
        freed.add(c);
    for (uint64_t c = 200; c < 205; ++c) // 5: dropped when the next run starts
        freed.add(c);
    freed.add(300);
    for (uint64_t c = 301; c < 316; ++c) // with 300: 16, kept
        freed.add(c);
    freed.add(90); // out of order: its own run, merged with nothing
    using Runs = std::vector<std::pair<uint64_t, uint64_t>>;
    CHECK(freed.runs() == Runs{{90, 90}, {100, 119}, {300, 315}});
    io::Plan plan;
    repair::plan_discards(plan, freed, 4096, 1 << 30, "test");
    std::vector<std::pair<uint64_t, uint64_t>> discards;
    for (const io::Step& s : plan.steps())
        if (s.kind == io::Step::Kind::discard)
            discards.emplace_back(s.offset, s.length);
    CHECK(discards == Runs{{100 * 4096, 20 * 4096}, {300 * 4096, 16 * 4096}});
    // Clipped to the file.
    io::Plan clipped;
    repair::plan_discards(clipped, freed, 4096, 310 * 4096, "test");
    REQUIRE(clipped.steps().size() == 1);
    CHECK(clipped.steps()[0].offset == 100 * 4096);
}
