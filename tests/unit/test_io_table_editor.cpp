// Read-modify-write of on-disk tables (lib/io/table_editor.cpp): one read per
// table, edits kept in memory, and only changed 512-byte sectors planned.
#include "fixtures/doctest_printers.hpp"
#include "fixtures/failing_reads.hpp"
#include "io/memory_device.hpp"
#include "io/table_editor.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace imgmend;
using util::Errc;

namespace {

constexpr uint64_t table_size = 4096; // eight sectors
constexpr uint64_t sector = 512;

std::vector<uint8_t> counting(size_t n)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(i * 7 + i / 256);
    return v;
}

// The plan's write steps as (offset, length).
std::vector<std::pair<uint64_t, uint64_t>> writes_of(const io::Plan& plan)
{
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (const io::Step& s : plan.steps()) {
        REQUIRE(s.kind == io::Step::Kind::write);
        out.emplace_back(s.offset, s.data.size());
    }
    return out;
}

using Writes = std::vector<std::pair<uint64_t, uint64_t>>;

} // namespace

TEST_CASE("table() reads the table once and hands out the same bytes afterwards")
{
    const auto disk = counting(16384);
    io::MemoryDevice dev(disk);
    io::TableEditor editor(dev);
    auto first = editor.table(8192, table_size);
    REQUIRE(first);
    std::vector<uint8_t>* t = *first;
    REQUIRE(t->size() == table_size);
    CHECK(std::equal(t->begin(), t->end(), disk.begin() + 8192));
    const size_t reads = dev.reads();
    (*t)[10] = 0xee;
    auto again = editor.table(8192, table_size);
    REQUIRE(again);
    CHECK(*again == t);
    CHECK((**again)[10] == 0xee); // the edit, not the disk
    CHECK(dev.reads() == reads);
    CHECK(dev.bytes() == disk); // nothing written yet
    CHECK(dev.writes().empty());
}

TEST_CASE("emit plans only the sectors that changed")
{
    const auto disk = counting(16384);
    io::MemoryDevice dev(disk);
    io::TableEditor editor(dev);
    std::vector<uint8_t>& t = **editor.table(4096, table_size);

    SUBCASE("no edit, no write")
    {
        io::Plan plan;
        editor.emit(plan, "L2 table");
        CHECK(plan.empty());
    }
    SUBCASE("one byte changes one whole sector")
    {
        t[sector + 3] ^= 0xff;
        io::Plan plan;
        editor.emit(plan, "L2 table");
        REQUIRE(writes_of(plan) == Writes{{4096 + sector, sector}});
        const io::Step& s = plan.steps()[0];
        CHECK(std::equal(s.data.begin(), s.data.end(), t.begin() + sector));
        CHECK(s.what == "L2 table at 0x1000");
    }
    SUBCASE("the first and last sectors, in order, as separate writes")
    {
        t[table_size - 1] ^= 1;
        t[0] ^= 1;
        t[1] ^= 1;
        io::Plan plan;
        editor.emit(plan, "refcount block");
        CHECK(writes_of(plan) == Writes{{4096, sector}, {4096 + table_size - sector, sector}});
    }
    SUBCASE("adjacent changed sectors are still one write each")
    {
        for (uint64_t s = 2; s < 5; ++s)
            t[s * sector + 100] ^= 0x55;
        io::Plan plan;
        editor.emit(plan, "x");
        CHECK(writes_of(plan) ==
              Writes{{4096 + 2 * sector, sector}, {4096 + 3 * sector, sector}, {4096 + 4 * sector, sector}});
    }
    SUBCASE("an edit undone before emit writes nothing")
    {
        uint8_t old = t[700];
        t[700] = static_cast<uint8_t>(old + 1);
        t[700] = old;
        io::Plan plan;
        editor.emit(plan, "x");
        CHECK(plan.empty());
    }
    SUBCASE("the plan, executed, leaves the table's edited bytes on disk and nothing else changed")
    {
        for (uint64_t i = 0; i < table_size; i += 600)
            t[i] = static_cast<uint8_t>(~t[i]);
        io::Plan plan;
        editor.emit(plan, "x");
        CHECK(plan.writes() == 7); // offsets 0, 600, ... 3600: sectors 0,1,2,3,4,5,7
        REQUIRE(io::execute(plan, dev, nullptr));
        auto expected = disk;
        std::copy(t.begin(), t.end(), expected.begin() + 4096);
        CHECK(dev.bytes() == expected);
        for (const io::WriteRecord& w : dev.writes()) {
            CHECK(w.offset % sector == 0);
            CHECK(w.length == sector);
        }
    }
}

TEST_CASE("a second emit plans only what changed since the first, on top of it")
{
    io::MemoryDevice dev(counting(8192));
    io::TableEditor editor(dev);
    std::vector<uint8_t>& t = **editor.table(0, table_size);
    t[5] = 0xa5;
    io::Plan first;
    editor.emit(first, "first");
    REQUIRE(first.writes() == 1);

    io::Plan nothing;
    editor.emit(nothing, "again");
    CHECK(nothing.empty());

    // Same sector again: the write carries both edits.
    t[9] = 0x5a;
    io::Plan second;
    editor.emit(second, "second");
    REQUIRE(writes_of(second) == Writes{{0, sector}});
    CHECK(second.steps()[0].data[5] == 0xa5);
    CHECK(second.steps()[0].data[9] == 0x5a);

    // Changing a byte back to its value on disk is a change since the last emit.
    t[5] = counting(8192)[5];
    io::Plan third;
    editor.emit(third, "third");
    CHECK(writes_of(third) == Writes{{0, sector}});
}

TEST_CASE("several tables are emitted in the order of their offsets")
{
    io::MemoryDevice dev(counting(65536));
    io::TableEditor editor(dev);
    std::vector<uint8_t>& high = **editor.table(49152, table_size);
    std::vector<uint8_t>& low = **editor.table(8192, table_size);
    std::vector<uint8_t>& untouched = **editor.table(16384, table_size);
    (void)untouched;
    high[0] ^= 1;
    low[2000] ^= 1;
    io::Plan plan;
    editor.emit(plan, "L2 table");
    REQUIRE(writes_of(plan) == Writes{{8192 + 3 * sector, sector}, {49152, sector}});
    CHECK(plan.steps()[0].what == "L2 table at 0x2000");
    CHECK(plan.steps()[1].what == "L2 table at 0xc000");
}

TEST_CASE("a table that is not a whole number of sectors ends with a short write")
{
    // An L1 table of 75 entries: 600 bytes, one sector and 88 bytes.
    io::MemoryDevice dev(counting(4096));
    io::TableEditor editor(dev);
    std::vector<uint8_t>& l1 = **editor.table(1024, 600);
    REQUIRE(l1.size() == 600);
    util::store_be64(l1, 74 * 8, 0x8000000000050000);
    io::Plan plan;
    editor.emit(plan, "L1 table");
    REQUIRE(writes_of(plan) == Writes{{1024 + sector, 88}});
    REQUIRE(io::execute(plan, dev, nullptr));
    CHECK(util::load_be64(dev.bytes(), 1024 + 74 * 8) == 0x8000000000050000);
    CHECK(dev.bytes()[1024 + 600] == counting(4096)[1024 + 600]); // the byte after the table
}

TEST_CASE("a table past the end of the device reads as zeros and is written where it lies")
{
    io::MemoryDevice dev(counting(6144));
    io::TableEditor editor(dev);
    SUBCASE("partly past the end")
    {
        std::vector<uint8_t>& t = **editor.table(4096, table_size);
        CHECK(std::equal(t.begin(), t.begin() + 2048, counting(6144).begin() + 4096));
        CHECK(std::all_of(t.begin() + 2048, t.end(), [](uint8_t b) { return b == 0; }));
        t[table_size - 1] = 1;
        io::Plan plan;
        editor.emit(plan, "x");
        CHECK(writes_of(plan) == Writes{{4096 + table_size - sector, sector}});
        REQUIRE(io::execute(plan, dev, nullptr));
        CHECK(dev.size() == 4096 + table_size);
        CHECK(dev.bytes().back() == 1);
    }
    SUBCASE("wholly past the end: no read at all")
    {
        const size_t reads = dev.reads();
        std::vector<uint8_t>& t = **editor.table(65536, table_size);
        CHECK(dev.reads() == reads);
        CHECK(std::all_of(t.begin(), t.end(), [](uint8_t b) { return b == 0; }));
        io::Plan plan;
        editor.emit(plan, "x");
        CHECK(plan.empty()); // zeros that stay zeros need no write
    }
}

TEST_CASE("a failed read is an error, and the table is read again next time")
{
    test::FailingReads dev(counting(16384));
    dev.fail_reads(8192 + 100, 1);
    io::TableEditor editor(dev);
    auto r = editor.table(8192, table_size);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::io);
    // Other tables are unaffected.
    REQUIRE(editor.table(0, table_size));
    dev.fail_reads(0, 0);
    auto retry = editor.table(8192, table_size);
    REQUIRE(retry);
    CHECK(std::equal((*retry)->begin(), (*retry)->end(), counting(16384).begin() + 8192));
    io::Plan plan;
    editor.emit(plan, "x");
    CHECK(plan.empty());
}

TEST_CASE("a power cut during the planned writes leaves every 8-byte entry old or new")
{
    // The reason for sector-sized writes: entries never straddle a sector,
    // so each write is all or nothing for the entries in it.
    const auto disk = counting(8192);
    io::MemoryDevice probe(disk);
    io::TableEditor editor(probe);
    std::vector<uint8_t>& t = **editor.table(4096, table_size);
    for (uint64_t e = 0; e < table_size / 8; e += 37)
        util::store_be64(t, e * 8, 0x8000000000000000 | (e << 16));
    const auto edited = t;
    io::Plan plan;
    editor.emit(plan, "L2 table");
    const size_t n_writes = plan.writes();
    REQUIRE(n_writes == 8);
    for (size_t crash = 0; crash <= n_writes; ++crash) {
        CAPTURE(crash);
        io::MemoryDevice dev(disk);
        dev.crash_after_write(crash);
        (void)io::execute(plan, dev, nullptr);
        size_t new_entries = 0;
        for (uint64_t e = 0; e < table_size / 8; ++e) {
            uint64_t now = util::load_be64(dev.bytes(), 4096 + e * 8);
            uint64_t old = util::load_be64(disk, 4096 + e * 8);
            uint64_t want = util::load_be64(edited, e * 8);
            REQUIRE((now == old || now == want));
            new_entries += now == want && want != old;
        }
        // Writes go out in table order, one sector (64 entries) each.
        size_t expected = 0;
        for (uint64_t e = 0; e < table_size / 8 && e < crash * 64; e += 37)
            ++expected;
        CHECK(new_entries == expected);
    }
}
