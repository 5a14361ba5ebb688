#include "fixtures/doctest_printers.hpp"
#include "io/memory_device.hpp"
#include "qcow2/bitmap.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace imgmend;
using util::Errc;

namespace {

struct DirEntry {
    uint64_t table_offset = 0x40000;
    uint32_t table_size = 1;
    uint32_t flags = qcow2::bitmap_flag_auto;
    uint8_t type = 1;
    uint8_t granularity_bits = 16;
    std::string name = "bitmap0";
    std::vector<uint8_t> extra;
};

// Serialises a directory entry from the specification's layout, padded to 8.
std::vector<uint8_t> dir_entry(const DirEntry& d)
{
    size_t used = 24 + d.extra.size() + d.name.size();
    std::vector<uint8_t> e((used + 7) / 8 * 8, 0);
    util::store_be64(e, 0, d.table_offset);
    util::store_be32(e, 8, d.table_size);
    util::store_be32(e, 12, d.flags);
    e[16] = d.type;
    e[17] = d.granularity_bits;
    util::store_be16(e, 18, static_cast<uint16_t>(d.name.size()));
    util::store_be32(e, 20, static_cast<uint32_t>(d.extra.size()));
    auto at = std::copy(d.extra.begin(), d.extra.end(), e.begin() + 24);
    std::copy(d.name.begin(), d.name.end(), at);
    return e;
}

constexpr uint64_t dir_at = 0x2000;

struct Dir {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(dir_at, 0);
    qcow2::BitmapsExtension ext{0, 0, dir_at};
    Dir& add(const DirEntry& d)
    {
        auto e = dir_entry(d);
        size_t at = bytes.size();
        bytes.resize(at + e.size());
        std::copy(e.begin(), e.end(), bytes.begin() + static_cast<ptrdiff_t>(at));
        ext.nb_bitmaps++;
        ext.directory_size += e.size();
        return *this;
    }
    util::Result<std::vector<qcow2::BitmapEntry>> read() const
    {
        io::MemoryDevice dev(bytes);
        return qcow2::read_bitmap_directory(dev, ext);
    }
};

} // namespace

TEST_CASE("read_bitmap_directory reads every field")
{
    DirEntry a;
    DirEntry b;
    b.table_offset = 0x50000;
    b.table_size = 3;
    b.flags = qcow2::bitmap_flag_in_use | qcow2::bitmap_flag_extra_compatible;
    b.granularity_bits = 9;
    b.name = std::string("exactly8"); // name ends on the 8-byte boundary: no padding
    b.extra = {1, 2, 3, 4, 5, 6, 7, 8};
    Dir d;
    d.add(a).add(b);
    auto entries = d.read();
    REQUIRE(entries);
    REQUIRE(entries->size() == 2);
    const auto& e0 = (*entries)[0];
    CHECK(e0.entry_offset == dir_at);
    CHECK(e0.table_offset == 0x40000);
    CHECK(e0.table_size == 1);
    CHECK(e0.flags == qcow2::bitmap_flag_auto);
    CHECK(e0.type == 1);
    CHECK(e0.granularity_bits == 16);
    CHECK(e0.extra_data_size == 0);
    CHECK(e0.name == "bitmap0");
    const auto& e1 = (*entries)[1];
    CHECK(e1.entry_offset == dir_at + 32);
    CHECK(e1.table_offset == 0x50000);
    CHECK(e1.table_size == 3);
    CHECK(e1.flags == (qcow2::bitmap_flag_in_use | qcow2::bitmap_flag_extra_compatible));
    CHECK(e1.granularity_bits == 9);
    CHECK(e1.extra_data_size == 8);
    CHECK(e1.name == "exactly8");
}

TEST_CASE("read_bitmap_directory refuses sizes above qemu's caps")
{
    Dir d;
    d.add(DirEntry{});
    SUBCASE("too many bitmaps")
    {
        d.ext.nb_bitmaps = 65536;
        auto r = d.read();
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::out_of_range);
    }
    SUBCASE("directory above 64 MiB")
    {
        d.ext.directory_size = (64ull << 20) + 1;
        auto r = d.read();
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::out_of_range);
    }
}

TEST_CASE("read_bitmap_directory refuses a directory beyond the end of the file")
{
    Dir d;
    d.add(DirEntry{});
    SUBCASE("one byte past the end")
    {
        d.ext.directory_size += 1;
    }
    SUBCASE("offset past the end")
    {
        d.ext.directory_offset = d.bytes.size();
    }
    SUBCASE("offset near 2^64")
    {
        d.ext.directory_offset = ~uint64_t{0} - 8;
    }
    auto r = d.read();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::truncated);
}

TEST_CASE("read_bitmap_directory refuses entries that overrun the directory")
{
    Dir d;
    d.add(DirEntry{}).add(DirEntry{.name = "second"});
    SUBCASE("more bitmaps than entries")
    {
        d.ext.nb_bitmaps = 3;
    }
    SUBCASE("name longer than the directory")
    {
        util::store_be16(d.bytes, dir_at + 32 + 18, 0x1000);
    }
    SUBCASE("extra data longer than the directory")
    {
        util::store_be32(d.bytes, dir_at + 20, 0xffffffff);
    }
    auto r = d.read();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::corrupt_metadata);
}

TEST_CASE("read_bitmap_directory at every directory size")
{
    Dir d;
    d.add(DirEntry{.extra = {9, 9, 9}}).add(DirEntry{.name = "another bitmap"});
    uint64_t full = d.ext.directory_size;
    for (uint64_t size = 0; size < full; ++size) {
        CAPTURE(size);
        Dir cut = d;
        cut.ext.directory_size = size;
        auto r = cut.read();
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::corrupt_metadata);
    }
}

TEST_CASE("read_bitmap_directory never crashes on bit flips")
{
    Dir d;
    d.add(DirEntry{.extra = {9, 9, 9}}).add(DirEntry{.name = "another bitmap"});
    for (size_t bit = dir_at * 8; bit < d.bytes.size() * 8; ++bit) {
        Dir f = d;
        f.bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        auto r = f.read();
        if (r)
            CHECK(r->size() == 2);
        else
            CHECK(r.error().code == Errc::corrupt_metadata);
    }
}

TEST_CASE("read_bitmap_table decodes big-endian entries")
{
    std::vector<uint8_t> bytes(0x3000, 0);
    util::store_be64(bytes, 0x2000, 0x50000);
    util::store_be64(bytes, 0x2008, qcow2::bitmap_entry_all_ones);
    util::store_be64(bytes, 0x2010, 0);
    io::MemoryDevice dev(bytes);
    qcow2::BitmapEntry e;
    e.name = std::string("b");
    e.table_offset = 0x2000;
    e.table_size = 3;
    auto t = qcow2::read_bitmap_table(dev, e);
    REQUIRE(t);
    REQUIRE(t->size() == 3);
    CHECK((*t)[0] == 0x50000);
    CHECK(((*t)[0] & qcow2::bitmap_entry_offset_mask) == 0x50000);
    CHECK((*t)[1] == qcow2::bitmap_entry_all_ones);
    CHECK((*t)[2] == 0);

    e.table_size = 0;
    auto empty = qcow2::read_bitmap_table(dev, e);
    REQUIRE(empty);
    CHECK(empty->empty());

    e.table_size = 0x200 + 1; // one entry past the end of the file
    auto past = qcow2::read_bitmap_table(dev, e);
    REQUIRE_FALSE(past);
    CHECK(past.error().code == Errc::truncated);
    CHECK(past.error().message.find("'b'") != std::string::npos);

    e.table_size = 0xffffffff;
    auto huge = qcow2::read_bitmap_table(dev, e);
    REQUIRE_FALSE(huge);
    CHECK(huge.error().code == Errc::truncated);
}
