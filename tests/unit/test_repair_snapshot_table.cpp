// The snapshot table as qemu-img check -r all reads and writes it back
// (lib/repair/snapshot_table.cpp).
#include "fixtures/doctest_printers.hpp"
#include "io/memory_device.hpp"
#include "repair/snapshot_table.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

using namespace imgmend;

namespace {

constexpr uint64_t table_at = 0x1000;

struct Entry {
    uint64_t l1_offset = 0x30000;
    uint32_t l1_size = 1;
    std::string id = "1";
    std::string name = "s1";
    uint32_t vm_state_size32 = 0;
    std::vector<uint8_t> extra = std::vector<uint8_t>(24, 0);
};

std::vector<uint8_t> encode(const Entry& e)
{
    auto declared = static_cast<uint32_t>(e.extra.size());
    // Sized once: growing a 40-byte vector trips gcc 12's -Warray-bounds.
    size_t size = 40 + declared + e.id.size() + e.name.size();
    std::vector<uint8_t> out((size + 7) / 8 * 8, 0);
    util::store_be64(out, 0, e.l1_offset);
    util::store_be32(out, 8, e.l1_size);
    util::store_be16(out, 12, static_cast<uint16_t>(e.id.size()));
    util::store_be16(out, 14, static_cast<uint16_t>(e.name.size()));
    util::store_be32(out, 16, 1234);
    util::store_be32(out, 20, 5678);
    util::store_be64(out, 24, 99);
    util::store_be32(out, 32, e.vm_state_size32);
    util::store_be32(out, 36, declared);
    std::copy(e.extra.begin(), e.extra.end(), out.begin() + 40);
    auto strings = std::copy(e.id.begin(), e.id.end(), out.begin() + 40 + declared);
    std::copy(e.name.begin(), e.name.end(), strings);
    return out;
}

struct Table {
    qcow2::Header header;
    std::vector<uint8_t> bytes = std::vector<uint8_t>(table_at, 0);
    Table()
    {
        header.version = 3;
        header.size = 4 << 20;
        header.snapshots_offset = table_at;
    }
    Table& add(const Entry& e)
    {
        auto b = encode(e);
        bytes.insert(bytes.end(), b.begin(), b.end());
        ++header.nb_snapshots;
        return *this;
    }
    util::Result<repair::SalvagedTable> salvage()
    {
        io::MemoryDevice dev(bytes);
        return repair::salvage_snapshot_table(dev, header);
    }
    std::vector<uint8_t> table_bytes() const { return {bytes.begin() + table_at, bytes.end()}; }
};

std::vector<uint8_t> extra_fields(uint64_t vm_state, uint64_t disk, uint64_t icount)
{
    std::vector<uint8_t> x(24);
    util::store_be64(x, 0, vm_state);
    util::store_be64(x, 8, disk);
    util::store_be64(x, 16, icount);
    return x;
}

} // namespace

TEST_CASE("a sound table is kept whole and written back byte for byte")
{
    Table t;
    t.add(Entry{}).add(Entry{0x40000, 1, "2", "second", 0, extra_fields(0, 4 << 20, 7)});
    auto s = t.salvage();
    REQUIRE(s);
    CHECK(s->kept.size() == 2);
    CHECK(s->corruptions() == 0);
    CHECK(s->parsed_bytes == t.table_bytes().size());
    CHECK(repair::serialize_snapshot_table(*s, 4 << 20) == t.table_bytes());
}

TEST_CASE("incomplete version 3 entries are filled in as qemu fills them")
{
    Entry e;
    e.vm_state_size32 = 4096;
    SUBCASE("no extra data")
    {
        e.extra.clear();
    }
    SUBCASE("8 bytes: the VM state size is there")
    {
        e.extra = std::vector<uint8_t>(8, 0);
        util::store_be64(e.extra, 0, 4096);
    }
    Table t;
    t.add(e);
    auto s = t.salvage();
    REQUIRE(s);
    CHECK(s->incomplete == 1);
    CHECK(s->corruptions() == 1);
    Entry want = e;
    want.extra = extra_fields(4096, 4 << 20, ~uint64_t{0});
    CHECK(repair::serialize_snapshot_table(*s, 4 << 20) == encode(want));
}

TEST_CASE("a version 2 entry without extra data is not incomplete, but is written back with it")
{
    Entry e;
    e.extra.clear();
    Table t;
    t.header.version = 2;
    t.add(e);
    auto s = t.salvage();
    REQUIRE(s);
    CHECK(s->corruptions() == 0);
    Entry want = e;
    want.extra = extra_fields(0, 4 << 20, ~uint64_t{0});
    CHECK(repair::serialize_snapshot_table(*s, 4 << 20) == encode(want));
}

TEST_CASE("16 bytes of extra data are complete; written back with icount -1")
{
    Entry e;
    e.extra = std::vector<uint8_t>(16, 0);
    util::store_be64(e.extra, 8, 1 << 20);
    Table t;
    t.add(e);
    auto s = t.salvage();
    REQUIRE(s);
    CHECK(s->corruptions() == 0);
    Entry want = e;
    want.extra = extra_fields(0, 1 << 20, ~uint64_t{0});
    CHECK(repair::serialize_snapshot_table(*s, 4 << 20) == encode(want));
}

TEST_CASE("a VM state size above 32 bits leaves the 32-bit field 0; unknown extra bytes stay")
{
    Entry e;
    e.vm_state_size32 = 77;
    e.extra = extra_fields(0x100000005, 4 << 20, 3);
    for (uint8_t c = 'A'; c < 'A' + 16; ++c)
        e.extra.push_back(c);
    Table t;
    t.add(e);
    auto s = t.salvage();
    REQUIRE(s);
    Entry want = e;
    want.vm_state_size32 = 0;
    CHECK(repair::serialize_snapshot_table(*s, 4 << 20) == encode(want));
}

TEST_CASE("too much extra data: 1024 bytes kept, id and name read after all of it")
{
    Table t;
    t.add(Entry{});
    // A damaged size: the id "1" and name "s1" now sit inside the "extra data".
    util::store_be32(t.bytes, table_at + 36, 2000);
    t.bytes.resize(t.bytes.size() + 2048, 0);
    auto s = t.salvage();
    REQUIRE(s);
    REQUIRE(s->kept.size() == 1);
    CHECK(s->extra_truncated == 1);
    CHECK(s->kept[0].extra.size() == 1024);
    CHECK(s->kept[0].extra[24] == '1');
    // What follows the declared extra data is zeros, which end the C
    // strings at once.
    CHECK(s->kept[0].id.empty());
    CHECK(s->kept[0].name.empty());
    auto written = repair::serialize_snapshot_table(*s, 4 << 20);
    CHECK(util::load_be32(written, 36) == 1024);
    CHECK(written.size() == 40 + 1024);
}

TEST_CASE("more than 65536 entries: the rest are dropped unread")
{
    Table t;
    t.add(Entry{});
    t.header.nb_snapshots = 65536 + 3; // the others are never read
    std::vector<uint8_t> one = encode(Entry{});
    for (uint32_t i = 1; i < 65536; ++i)
        t.bytes.insert(t.bytes.end(), one.begin(), one.end());
    auto s = t.salvage();
    REQUIRE(s);
    CHECK(s->kept.size() == 65536);
    CHECK(s->dropped_too_many == 3);
    CHECK(s->corruptions() == 3);
}

TEST_CASE("entries ending past 64 MiB are dropped with all that follow")
{
    Entry huge;
    huge.id = std::string(65535, 'i');
    huge.name = std::string(65535, 'n');
    Table t;
    for (int i = 0; i < 515; ++i)
        t.add(huge);
    auto s = t.salvage();
    REQUIRE(s);
    uint64_t entry = encode(huge).size();
    CHECK(s->kept.size() == (64ull << 20) / entry);
    CHECK(s->dropped_too_big == 515 - (64ull << 20) / entry);
    CHECK(s->parsed_bytes == s->kept.size() * entry);
}

TEST_CASE("an entry past the end of the file makes the table unsalvageable")
{
    Table t;
    t.add(Entry{});
    auto full = t.bytes;
    for (size_t cut = table_at; cut < full.size() - 8; ++cut) { // (the last 8: id, name, padding)
        CAPTURE(cut);
        t.bytes.assign(full.begin(), full.begin() + static_cast<ptrdiff_t>(cut));
        auto s = t.salvage();
        REQUIRE_FALSE(s);
        CHECK(s.error().code == util::Errc::truncated);
    }
    t.bytes = full;
    t.header.nb_snapshots = 2;
    CHECK_FALSE(t.salvage());
}

TEST_CASE("ids and names end at their first NUL")
{
    Entry e;
    e.id = std::string("7\0x", 3);
    e.name = std::string("ab\0", 3);
    Table t;
    t.add(e);
    auto s = t.salvage();
    REQUIRE(s);
    CHECK(s->kept[0].id == "7");
    CHECK(s->kept[0].name == "ab");
}
