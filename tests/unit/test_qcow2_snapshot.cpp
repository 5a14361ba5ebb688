#include "fixtures/doctest_printers.hpp"
#include "io/memory_device.hpp"
#include "qcow2/snapshot.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace imgmend;
using util::Errc;
using util::Result;

namespace {

struct EntrySpec {
    uint64_t l1_offset = 0x30000;
    uint32_t l1_size = 2;
    std::string id = "1";
    std::string name = "snap";
    uint32_t date_sec = 1700000000;
    uint32_t date_nsec = 123;
    uint64_t vm_clock = 456789;
    uint32_t vm_state_32 = 0x1111;
    std::vector<uint8_t> extra; // raw extra data
};

// Serialises an entry from the specification's layout, padded to 8 bytes.
std::vector<uint8_t> entry(const EntrySpec& s)
{
    size_t used = 40 + s.extra.size() + s.id.size() + s.name.size();
    std::vector<uint8_t> e((used + 7) / 8 * 8, 0);
    util::store_be64(e, 0, s.l1_offset);
    util::store_be32(e, 8, s.l1_size);
    util::store_be16(e, 12, static_cast<uint16_t>(s.id.size()));
    util::store_be16(e, 14, static_cast<uint16_t>(s.name.size()));
    util::store_be32(e, 16, s.date_sec);
    util::store_be32(e, 20, s.date_nsec);
    util::store_be64(e, 24, s.vm_clock);
    util::store_be32(e, 32, s.vm_state_32);
    util::store_be32(e, 36, static_cast<uint32_t>(s.extra.size()));
    auto at = e.begin() + 40;
    at = std::copy(s.extra.begin(), s.extra.end(), at);
    at = std::copy(s.id.begin(), s.id.end(), at);
    std::copy(s.name.begin(), s.name.end(), at);
    return e;
}

std::vector<uint8_t> extra_fields(std::optional<uint64_t> vm_state, std::optional<uint64_t> disk_size,
                                  std::optional<uint64_t> icount)
{
    std::vector<uint8_t> x(24, 0);
    size_t n = 0;
    for (auto v : {vm_state, disk_size, icount}) {
        if (!v)
            break;
        util::store_be64(x, n, *v);
        n += 8;
    }
    x.resize(n);
    return x;
}

constexpr uint64_t table_at = 0x1000;

struct Image {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(table_at, 0);
    qcow2::Header header;
    Image& add(const std::vector<uint8_t>& e)
    {
        size_t at = bytes.size();
        bytes.resize(at + e.size());
        std::copy(e.begin(), e.end(), bytes.begin() + static_cast<ptrdiff_t>(at));
        ++header.nb_snapshots;
        header.snapshots_offset = table_at;
        return *this;
    }
    Result<qcow2::SnapshotTable> read()
    {
        io::MemoryDevice dev(bytes);
        return qcow2::read_snapshot_table(dev, header);
    }
};

} // namespace

TEST_CASE("read_snapshot_table reads every field of version 3 entries")
{
    EntrySpec a;
    a.extra = extra_fields(0x123456789ull, 1ull << 30, std::nullopt);
    EntrySpec b;
    b.l1_offset = 0x90000;
    b.l1_size = 4;
    b.id = std::string("2");
    b.name = std::string("second snapshot");
    b.date_sec = 1;
    b.date_nsec = 2;
    b.vm_clock = 3;
    b.extra = extra_fields(0, 2ull << 30, ~uint64_t{0});
    Image img;
    img.add(entry(a)).add(entry(b));

    auto t = img.read();
    REQUIRE(t);
    REQUIRE(t->entries.size() == 2);
    const auto& s0 = t->entries[0];
    CHECK(s0.entry_offset == table_at);
    CHECK(s0.l1_table_offset == 0x30000);
    CHECK(s0.l1_size == 2);
    CHECK(s0.id == "1");
    CHECK(s0.name == "snap");
    CHECK(s0.date_sec == 1700000000);
    CHECK(s0.date_nsec == 123);
    CHECK(s0.vm_clock_nsec == 456789);
    CHECK(s0.vm_state_size == 0x123456789ull); // the 64-bit field wins over bytes 32-35
    CHECK(s0.extra_data_size == 16);
    CHECK(s0.disk_size == 1ull << 30);
    CHECK_FALSE(s0.icount);
    CHECK(s0.entry_size == 40 + 16 + 1 + 4 + 3); // padded to 64

    const auto& s1 = t->entries[1];
    CHECK(s1.entry_offset == table_at + 64);
    CHECK(s1.l1_table_offset == 0x90000);
    CHECK(s1.l1_size == 4);
    CHECK(s1.id == "2");
    CHECK(s1.name == "second snapshot");
    CHECK(s1.vm_state_size == 0);
    CHECK(s1.disk_size == 2ull << 30);
    CHECK(s1.icount == ~uint64_t{0});
    CHECK(s1.entry_size == 40 + 24 + 16);
    CHECK(t->total_bytes == s0.entry_size + s1.entry_size);
}

TEST_CASE("read_snapshot_table: version 2 entries without extra data")
{
    EntrySpec a;
    a.vm_state_32 = 0xabcdef;
    Image img;
    img.add(entry(a));
    auto t = img.read();
    REQUIRE(t);
    REQUIRE(t->entries.size() == 1);
    CHECK(t->entries[0].vm_state_size == 0xabcdef);
    CHECK_FALSE(t->entries[0].disk_size);
    CHECK_FALSE(t->entries[0].icount);
    CHECK(t->entries[0].entry_size == 48);
}

TEST_CASE("read_snapshot_table: 8 bytes of extra data hold only the large VM state size")
{
    EntrySpec a;
    a.extra = extra_fields(7, std::nullopt, std::nullopt);
    Image img;
    img.add(entry(a));
    auto t = img.read();
    REQUIRE(t);
    CHECK(t->entries[0].vm_state_size == 7);
    CHECK_FALSE(t->entries[0].disk_size);
}

TEST_CASE("read_snapshot_table: unknown extra data up to 1024 bytes is skipped")
{
    EntrySpec a;
    a.extra = extra_fields(1, 2, 3);
    a.extra.resize(1024, 0x5a);
    a.id = std::string("id-after-extra");
    a.name = std::string("name");
    Image img;
    img.add(entry(a));
    auto t = img.read();
    REQUIRE(t);
    CHECK(t->entries[0].id == "id-after-extra");
    CHECK(t->entries[0].name == "name");
    CHECK(t->entries[0].icount == 3u);
}

TEST_CASE("read_snapshot_table refuses extra data above 1024 bytes")
{
    EntrySpec a;
    a.extra.resize(1025, 0);
    Image img;
    img.add(entry(a));
    auto t = img.read();
    REQUIRE_FALSE(t);
    CHECK(t.error().code == Errc::corrupt_metadata);
    CHECK(t.error().message.find("1025") != std::string::npos);
    CHECK(t.error().offset == table_at); // the entry

    // Also when the entry claims more than the file holds.
    Image huge;
    std::vector<uint8_t> e = entry(EntrySpec{});
    util::store_be32(e, 36, 0xffffffffu);
    huge.add(e);
    auto h = huge.read();
    REQUIRE_FALSE(h);
    CHECK(h.error().code == Errc::corrupt_metadata);
}

TEST_CASE("read_snapshot_table without snapshots reads nothing")
{
    qcow2::Header h;
    h.nb_snapshots = 0;
    h.snapshots_offset = 0xdead0000;
    io::MemoryDevice dev;
    auto t = qcow2::read_snapshot_table(dev, h);
    REQUIRE(t);
    CHECK(t->entries.empty());
    CHECK(t->total_bytes == 0);
    CHECK(dev.reads() == 0);
}

TEST_CASE("read_snapshot_table refuses a table beyond the end of the file")
{
    Image img;
    img.add(entry(EntrySpec{}));
    SUBCASE("offset past the end")
    {
        img.header.snapshots_offset = img.bytes.size();
    }
    SUBCASE("offset near 2^64")
    {
        img.header.snapshots_offset = ~uint64_t{0} - 16;
    }
    SUBCASE("more entries than written")
    {
        img.header.nb_snapshots = 2;
    }
    auto t = img.read();
    REQUIRE_FALSE(t);
    CHECK(t.error().code == Errc::truncated);
}

TEST_CASE("read_snapshot_table at every truncation length of the table")
{
    EntrySpec a;
    a.extra = extra_fields(1, 2, std::nullopt);
    EntrySpec b;
    b.name = std::string("a somewhat longer name");
    b.extra = extra_fields(1, 2, 3);
    Image img;
    img.add(entry(a)).add(entry(b));
    auto full = img.bytes;
    // The padding of the last entry is not needed to read it.
    size_t needed = table_at + entry(a).size() + 40 + 24 + 1 + b.name.size();
    for (size_t len = table_at; len <= full.size(); ++len) {
        CAPTURE(len);
        img.bytes.assign(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
        auto t = img.read();
        if (len < needed) {
            REQUIRE_FALSE(t);
            CHECK(t.error().code == Errc::truncated);
        } else {
            REQUIRE(t);
            CHECK(t->entries.size() == 2);
            CHECK(t->entries[1].name == b.name);
        }
    }
}

TEST_CASE("read_snapshot_table never crashes on bit flips")
{
    EntrySpec a;
    a.extra = extra_fields(1, 2, 3);
    Image img;
    img.add(entry(a)).add(entry(EntrySpec{}));
    auto full = img.bytes;
    for (size_t bit = table_at * 8; bit < full.size() * 8; ++bit) {
        img.bytes = full;
        img.bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        auto t = img.read();
        if (t) {
            CHECK(t->entries.size() == 2);
        } else {
            CHECK((t.error().code == Errc::truncated || t.error().code == Errc::corrupt_metadata));
        }
    }
}

namespace {

// A large device that synthesises a table of maximal entries (id and name of
// 65535 bytes each) without storing it.
class SnapshotTableDevice final : public io::BlockDevice {
public:
    static constexpr uint64_t entry_bytes = 40 + 65535 + 65535 + 2; // padded to 8
    const std::string& name() const override { return name_; }
    uint64_t size() const override { return 1ull << 40; }
    util::Result<void> read(uint64_t offset, std::span<uint8_t> out) override
    {
        std::fill(out.begin(), out.end(), 'x');
        if (offset % entry_bytes == 0 && out.size() == 40) {
            std::fill(out.begin(), out.end(), 0);
            util::store_be16(out, 12, 0xffff);
            util::store_be16(out, 14, 0xffff);
        }
        return {};
    }
    util::Result<void> write(uint64_t, std::span<const uint8_t>) override { return {}; }
    util::Result<void> flush() override { return {}; }
    bool can_resize() const override { return false; }
    util::Result<void> resize(uint64_t) override { return {}; }
    util::Result<void> discard(uint64_t, uint64_t) override { return {}; }
    util::Result<io::AllocationRun> allocation_at(uint64_t) override
    {
        return io::AllocationRun{io::Allocation::data, 0};
    }
    uint64_t allocated_bytes() const override { return 0; }

private:
    std::string name_ = "synthetic";
};

} // namespace

TEST_CASE("read_snapshot_table refuses a table above qemu's 64 MiB")
{
    SnapshotTableDevice dev;
    qcow2::Header h;
    h.nb_snapshots = 65536;
    h.snapshots_offset = 0;
    auto t = qcow2::read_snapshot_table(dev, h);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == Errc::out_of_range);
}

TEST_CASE("read_snapshot_table refuses more than qemu's 65536 snapshots before reading any")
{
    SnapshotTableDevice dev;
    qcow2::Header h;
    h.nb_snapshots = 65537;
    h.snapshots_offset = 0;
    auto t = qcow2::read_snapshot_table(dev, h);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == Errc::out_of_range);
    CHECK(t.error().message.find("Too many snapshots: 65537") != std::string::npos);
}
