// The refcount structure rebuild (lib/repair/rebuild.cpp): where the new
// blocks and table go, what happens on a device that cannot grow, the
// write order that makes it crash safe, and what it must leave alone.
#include "fixtures/doctest_printers.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "fixtures/repair_fixture.hpp"
#include "qcow2/l2_entry.hpp"
#include "refcount/refcount_block.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace imgmend;
using repair::RepairMode;
using test::check_bytes;
using test::clean;
using test::guest_view;
using test::plan_bytes;
using test::plan_on;
using test::repaired;
using util::Errc;

namespace {

// Guest clusters 0..count-1 written (fill = index), then `free_clusters`
// unreferenced clusters with refcount 0 (free space inside the file), then
// one more data cluster so that the free ones are not at the end.
struct Image {
    test::Qcow2Builder b;
    uint64_t first_data = 0, first_free = 0, last_data = 0;
    explicit Image(uint64_t count, uint64_t free_clusters, test::BuilderOptions o = {}) : b(o)
    {
        for (uint64_t g = 0; g < count; ++g) {
            uint64_t host = b.write_cluster(g, static_cast<uint8_t>(g + 1));
            if (g == 0)
                first_data = host;
        }
        for (uint64_t i = 0; i < free_clusters; ++i) {
            uint64_t c = b.allocate_cluster();
            if (i == 0)
                first_free = c;
            b.set_refcount(c / b.cluster_size(), 0);
        }
        last_data = b.write_cluster(count, 0x5a);
    }
    // The image with refcount 0 on the first data cluster: a rebuild.
    std::vector<uint8_t> needing_rebuild()
    {
        b.set_refcount(first_data / b.cluster_size(), 0);
        return b.bytes();
    }
};

// The new refcount table offset a plan switches the header to.
uint64_t new_reftable(const io::Plan& plan)
{
    for (const auto& s : plan.steps())
        if (s.kind == io::Step::Kind::write && s.offset == 48 && s.data.size() >= 12)
            return util::load_be64(s.data, 0);
    FAIL("the plan does not switch the refcount table");
    return 0;
}

} // namespace

TEST_CASE("the rebuild goes into free clusters inside the file, which then does not grow")
{
    Image img(3, 2);
    auto bytes = img.needing_rebuild();
    auto p = plan_bytes(bytes, RepairMode::all);
    REQUIRE(p.outcome);
    REQUIRE(p.outcome->rebuild);
    CHECK(p.outcome->plan.final_size(bytes.size()) == bytes.size());
    uint64_t table = new_reftable(p.outcome->plan);
    CHECK(table >= img.first_free);
    CHECK(table < img.last_data);
    auto after = repaired(bytes, RepairMode::all);
    CHECK(after.size() == bytes.size());
    CHECK(clean(check_bytes(after)));
    CHECK(guest_view(after) == guest_view(bytes));
}

TEST_CASE("with no free cluster the rebuild grows the file by a block and a table")
{
    Image img(3, 0);
    auto bytes = img.needing_rebuild();
    auto p = plan_bytes(bytes, RepairMode::all);
    REQUIRE(p.outcome);
    uint64_t cs = img.b.cluster_size();
    CHECK(p.outcome->plan.final_size(bytes.size()) > bytes.size());
    CHECK(p.outcome->plan.final_size(bytes.size()) <= bytes.size() + 2 * cs);
    CHECK(new_reftable(p.outcome->plan) >= bytes.size());
    auto after = repaired(bytes, RepairMode::all);
    CHECK(clean(check_bytes(after)));
    CHECK(guest_view(after) == guest_view(bytes));
}

TEST_CASE("on a device that cannot grow")
{
    SUBCASE("without room inside: the plan fails, nothing is written")
    {
        Image img(3, 0);
        auto bytes = img.needing_rebuild();
        auto dev = std::make_shared<io::MemoryDevice>(bytes);
        dev->set_resizable(false);
        auto p = plan_on(dev, RepairMode::all);
        REQUIRE_FALSE(p.outcome);
        CHECK(p.outcome.error().code == Errc::no_space);
        CHECK(p.outcome.error().message.find("cannot grow") != std::string::npos);
        CHECK(dev->writes().empty());
        CHECK(dev->bytes() == bytes);
    }
    SUBCASE("with room inside: repaired in place")
    {
        Image img(3, 2);
        auto bytes = img.needing_rebuild();
        auto dev = std::make_shared<io::MemoryDevice>(bytes);
        dev->set_resizable(false);
        auto p = plan_on(dev, RepairMode::all);
        REQUIRE(p.outcome);
        REQUIRE(io::execute(p.outcome->plan, *dev, nullptr));
        CHECK(dev->bytes().size() == bytes.size());
        CHECK(clean(check_bytes(dev->bytes())));
    }
    SUBCASE("room for the blocks but not for the table: fails, nothing written")
    {
        Image img(3, 1);
        auto bytes = img.needing_rebuild();
        auto dev = std::make_shared<io::MemoryDevice>(bytes);
        dev->set_resizable(false);
        auto p = plan_on(dev, RepairMode::all);
        REQUIRE_FALSE(p.outcome);
        CHECK(p.outcome.error().code == Errc::no_space);
        CHECK(dev->writes().empty());
    }
}

TEST_CASE("a device that says it can grow but fails to: the switch never happens")
{
    // A full file system: writes past the end fail. The new structure is
    // written before the header switches to it, so the image stays as it was
    // (as damaged, no worse) and its data is intact.
    Image img(3, 0);
    auto bytes = img.needing_rebuild();
    auto dev = std::make_shared<io::MemoryDevice>(bytes);
    dev->set_size_limit(bytes.size());
    auto p = plan_on(dev, RepairMode::all);
    REQUIRE(p.outcome);
    REQUIRE_FALSE(io::execute(p.outcome->plan, *dev, nullptr));
    CHECK(util::load_be64(dev->bytes(), 48) == util::load_be64(bytes, 48));
    CHECK(check_bytes(dev->bytes()).corruptions <= check_bytes(bytes).corruptions);
    CHECK(guest_view(dev->bytes()) == guest_view(bytes));
}

TEST_CASE("the new structure is durable before the header switch; the old one is freed after it")
{
    Image img(3, 0);
    auto bytes = img.needing_rebuild();
    auto p = plan_bytes(bytes, RepairMode::all);
    REQUIRE(p.outcome);
    const auto& steps = p.outcome->plan.steps();
    auto header = std::find_if(steps.begin(), steps.end(),
                               [](const io::Step& s) { return s.kind == io::Step::Kind::write && s.offset == 48; });
    REQUIRE(header != steps.end());
    CHECK(header->data.size() == 12); // offset and cluster count: one sector
    REQUIRE(header != steps.begin());
    CHECK((header - 1)->kind == io::Step::Kind::flush);
    uint64_t old_table = img.b.reftable_offset(), old_block = img.b.refblock_offset();
    for (auto it = steps.begin(); it != steps.end(); ++it) {
        bool touches_old = it->kind != io::Step::Kind::flush &&
                           ((it->offset <= old_table && old_table < it->offset + std::max<uint64_t>(it->data.size(), it->length)) ||
                            (it->offset <= old_block && old_block < it->offset + std::max<uint64_t>(it->data.size(), it->length)));
        if (touches_old) {
            CAPTURE(it->what);
            CHECK(it > header + 1); // after the switch and its flush
            CHECK(it->kind == io::Step::Kind::discard);
        }
    }
}

TEST_CASE("512-byte clusters: the new blocks cross a refcount block boundary")
{
    // 256 16-bit entries per block; the image fills all but one cluster of
    // what the first block covers, so the appended block and table need a
    // second block, placed after them.
    test::BuilderOptions o;
    o.cluster_bits = 9;
    o.size = 1 << 20;
    Image img(246, 0, o);
    auto bytes = img.needing_rebuild();
    REQUIRE(bytes.size() / 512 == 255);
    auto p = plan_bytes(bytes, RepairMode::all);
    REQUIRE(p.outcome);
    auto after = repaired(bytes, RepairMode::all);
    CHECK(clean(check_bytes(after)));
    CHECK(guest_view(after) == guest_view(bytes));
    uint64_t table = util::load_be64(after, 48);
    CHECK(util::load_be64(after, table) != 0);
    CHECK(util::load_be64(after, table + 8) != 0); // a second block
    CHECK(after.size() / 512 > 256);
}

TEST_CASE("the rebuild keeps clusters orphaned by a pointer corruption")
{
    // guest cluster 1's entry points past the end of the file: its data
    // cluster is an orphan that may be the only copy. The rebuild must give
    // it refcount 1 and place nothing on it.
    Image img(3, 0);
    uint64_t cs = img.b.cluster_size();
    auto bytes = img.needing_rebuild();
    uint64_t l2 = img.b.l2_offset(0);
    uint64_t entry = util::load_be64(bytes, l2 + 8);
    uint64_t data1 = entry & qcow2::offset_mask;
    util::store_be64(bytes, l2 + 8, qcow2::oflag_copied | (64ull << 20));
    auto p = plan_bytes(bytes, RepairMode::all);
    REQUIRE(p.outcome);
    CHECK_FALSE(test::touches(p.outcome->plan, data1, cs));
    auto after = repaired(bytes, RepairMode::all);
    CHECK(std::equal(after.begin() + static_cast<ptrdiff_t>(data1), after.begin() + static_cast<ptrdiff_t>(data1 + cs),
                     bytes.begin() + static_cast<ptrdiff_t>(data1)));
    uint64_t table = util::load_be64(after, 48);
    uint64_t block = util::load_be64(after, table);
    CHECK(refcount::get_entry(std::span<const uint8_t>(after).subspan(block, cs), 4, data1 / cs) == 1);
}

TEST_CASE("the rebuild counts what it fixed as qemu-img does")
{
    // Refcount 0 on the refcount block itself: one corruption found, one
    // fixed (qemu-img: corruptions-fixed 1), although the old block is then
    // freed rather than given refcount 1.
    Image img(2, 0);
    img.b.set_refcount(img.b.refblock_offset() / img.b.cluster_size(), 0);
    auto bytes = img.b.bytes();
    REQUIRE(check_bytes(bytes).corruptions == 1);
    auto p = plan_bytes(bytes, RepairMode::all);
    REQUIRE(p.outcome);
    CHECK(p.outcome->rebuild);
    CHECK(p.outcome->corruptions_fixed == 1);
}

TEST_CASE("the rebuild counts the old structure's own corruptions as fixed, as qemu-img does")
{
    // A data entry pointing at the refcount block: "refcount block 0
    // refcount=2" and "cluster N refcount=1 reference=2"; qemu-img's rebuild
    // fixes both (corruptions-fixed 2), since a count over the new
    // structure finds neither.
    Image img(2, 0);
    img.b.set_l2_entry(5, img.b.refblock_offset() | qcow2::oflag_copied);
    auto bytes = img.b.bytes();
    REQUIRE(check_bytes(bytes).corruptions == 2);
    auto p = plan_bytes(bytes, RepairMode::all);
    REQUIRE(p.outcome);
    CHECK(p.outcome->rebuild);
    CHECK(p.outcome->corruptions_fixed == 2);
}

TEST_CASE("a crash after any write of a rebuild adds no corruption and loses no data")
{
    for (uint64_t free_clusters : {0, 2}) {
        CAPTURE(free_clusters);
        Image img(3, free_clusters);
        auto bytes = img.needing_rebuild();
        const auto before = check_bytes(bytes);
        const auto view = guest_view(bytes);
        size_t n = test::device_writes(bytes, RepairMode::all);
        REQUIRE(n >= 3);
        for (size_t i = 0; i <= n; ++i) {
            CAPTURE(i);
            auto [written, durable] = test::crashed(bytes, RepairMode::all, i);
            for (const auto* state : {&written, &durable}) {
                auto r = check_bytes(*state);
                CHECK(r.corruptions <= before.corruptions);
                CHECK(r.check_errors == 0);
                CHECK(guest_view(*state) == view);
            }
        }
    }
}
