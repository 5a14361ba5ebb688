#include "fixtures/temp_dir.hpp"
#include "io/file_device.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

using namespace imgmend;
using util::Errc;
using util::Result;

namespace {

std::shared_ptr<io::FileDevice> open_rw(const std::string& path)
{
    auto dev = io::FileDevice::open(path, io::Access::read_write, io::LockMode::none);
    REQUIRE(dev);
    return *dev;
}

uint64_t stat_size(const std::string& path)
{
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return static_cast<uint64_t>(st.st_size);
}

constexpr uint64_t mib = 1 << 20;

} // namespace

TEST_CASE("FileDevice::open of a missing file is not_found and names it")
{
    test::TempDir dir;
    auto dev = io::FileDevice::open(dir.file("missing.qcow2"), io::Access::read_only, io::LockMode::none);
    REQUIRE_FALSE(dev);
    CHECK(dev.error().code == Errc::not_found);
    CHECK(dev.error().message.find("missing.qcow2") != std::string::npos);
}

TEST_CASE("FileDevice::open refuses a directory")
{
    test::TempDir dir;
    auto dev = io::FileDevice::open(dir.path(), io::Access::read_only, io::LockMode::none);
    REQUIRE_FALSE(dev);
    CHECK(dev.error().code == Errc::invalid_argument);
}

TEST_CASE("FileDevice reads and writes through to the file")
{
    test::TempDir dir;
    std::string path = dir.file("a.img");
    test::write_file(path, std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8});
    auto dev = open_rw(path);
    CHECK(dev->name() == path);
    CHECK(dev->size() == 8);
    CHECK(dev->can_resize());

    std::vector<uint8_t> out(4);
    REQUIRE(dev->read(2, out));
    CHECK(out == std::vector<uint8_t>{3, 4, 5, 6});

    auto past = dev->read(5, out);
    REQUIRE_FALSE(past);
    CHECK(past.error().code == Errc::truncated);
    CHECK(past.error().offset == 5u);

    std::vector<uint8_t> in{0xa, 0xb, 0xc};
    REQUIRE(dev->write(10, in)); // past the end: the file grows
    CHECK(dev->size() == 13);
    REQUIRE(dev->flush());
    auto disk = test::read_file(path);
    REQUIRE(disk.size() == 13);
    CHECK(disk[7] == 8);
    CHECK(disk[8] == 0);
    CHECK(disk[12] == 0xc);
    REQUIRE(dev->read(10, std::span<uint8_t>(out).first(3)));
    CHECK(out[2] == 0xc);
}

TEST_CASE("FileDevice opened read-only refuses writes")
{
    test::TempDir dir;
    std::string path = dir.file("ro.img");
    test::write_file(path, std::vector<uint8_t>(16, 0));
    auto dev = io::FileDevice::open(path, io::Access::read_only, io::LockMode::none);
    REQUIRE(dev);
    std::vector<uint8_t> in{1};
    auto r = (*dev)->write(0, in);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::io);
    CHECK(test::read_file(path)[0] == 0);
}

TEST_CASE("FileDevice: a zero-length write leaves the size as the file's")
{
    test::TempDir dir;
    std::string path = dir.file("z.img");
    test::write_file(path, std::vector<uint8_t>(10, 1));
    auto dev = open_rw(path);
    REQUIRE(dev->write(1000, std::span<const uint8_t>{}));
    CHECK(dev->size() == stat_size(path));
    std::vector<uint8_t> all(dev->size());
    CHECK(dev->read(0, all));
}

TEST_CASE("FileDevice::resize changes the file size")
{
    test::TempDir dir;
    std::string path = dir.file("r.img");
    test::write_file(path, std::vector<uint8_t>(100, 7));
    auto dev = open_rw(path);
    REQUIRE(dev->resize(4096));
    CHECK(dev->size() == 4096);
    CHECK(stat_size(path) == 4096);
    std::vector<uint8_t> out(2);
    REQUIRE(dev->read(99, out));
    CHECK(out == std::vector<uint8_t>{7, 0});
    REQUIRE(dev->resize(50));
    CHECK(dev->size() == 50);
    CHECK(stat_size(path) == 50);
    CHECK_FALSE(dev->read(49, out));
}

TEST_CASE("FileDevice::allocation_at follows holes and data of a sparse file")
{
    test::TempDir dir;
    std::string path = dir.file("sparse.img");
    auto dev = open_rw((test::write_file(path, std::span<const uint8_t>{}), path));
    // 1 MiB hole, 64 KiB data, then a 1 MiB hole up to the end.
    std::vector<uint8_t> data(64 << 10, 0x5a);
    REQUIRE(dev->write(mib, data));
    REQUIRE(dev->resize(3 * mib));
    REQUIRE(dev->flush());
    CHECK(dev->allocated_bytes() < 2 * mib);

    auto head = dev->allocation_at(0);
    REQUIRE(head);
    CHECK(head->state == io::Allocation::hole);
    CHECK(head->length == mib);

    auto mid = dev->allocation_at(4096);
    REQUIRE(mid);
    CHECK(mid->state == io::Allocation::hole);
    CHECK(mid->length == mib - 4096);

    auto d = dev->allocation_at(mib);
    REQUIRE(d);
    CHECK(d->state == io::Allocation::data);
    CHECK(d->length == data.size());

    auto d2 = dev->allocation_at(mib + 4096);
    REQUIRE(d2);
    CHECK(d2->state == io::Allocation::data);
    CHECK(d2->length == data.size() - 4096);

    auto tail = dev->allocation_at(mib + data.size());
    REQUIRE(tail);
    CHECK(tail->state == io::Allocation::hole);
    CHECK(tail->length == 3 * mib - mib - data.size());

    auto end = dev->allocation_at(3 * mib);
    REQUIRE(end);
    CHECK(end->state == io::Allocation::hole);
    CHECK(end->length == 0);
}

TEST_CASE("FileDevice::discard punches a hole that reads as zeros")
{
    test::TempDir dir;
    std::string path = dir.file("punch.img");
    test::write_file(path, std::vector<uint8_t>(3 * 65536, 0xc3));
    auto dev = open_rw(path);
    uint64_t before = dev->allocated_bytes();
    REQUIRE(dev->discard(65536, 65536));
    CHECK(dev->size() == 3 * 65536); // the size is kept
    CHECK(stat_size(path) == 3 * 65536);
    CHECK(dev->allocated_bytes() == before - 65536);

    std::vector<uint8_t> out(65536 + 2);
    REQUIRE(dev->read(65535, out));
    CHECK(out.front() == 0xc3);
    CHECK(out[1] == 0);
    CHECK(out[65536] == 0);
    CHECK(out.back() == 0xc3);

    auto hole = dev->allocation_at(65536);
    REQUIRE(hole);
    CHECK(hole->state == io::Allocation::hole);
    CHECK(hole->length == 65536);
    auto after = dev->allocation_at(0);
    REQUIRE(after);
    CHECK(after->state == io::Allocation::data);
    CHECK(after->length == 65536);

    CHECK(dev->discard(0, 0)); // nothing to do
}

TEST_CASE("FileDevice identifies the underlying file")
{
    test::TempDir dir;
    std::string a = dir.file("a"), b = dir.file("b"), link = dir.file("hard");
    test::write_file(a, std::vector<uint8_t>(1, 0));
    test::write_file(b, std::vector<uint8_t>(1, 0));
    REQUIRE(::link(a.c_str(), link.c_str()) == 0);
    auto da = open_rw(a), da2 = open_rw(a), db = open_rw(b), dl = open_rw(link);
    CHECK(da->inode() == da2->inode());
    CHECK(da->device_id() == da2->device_id());
    CHECK(da->inode() != db->inode());
    CHECK(dl->inode() == da->inode());
    CHECK(dl->device_id() == da->device_id());
}

TEST_CASE("FileDevice::write_uncached writes every part in order, aligned or not")
{
    test::TempDir dir;
    std::string path = dir.file("img");
    test::write_file(path, std::vector<uint8_t>(4096, 0xee));
    auto dev = open_rw(path);
    // Aligned parts (O_DIRECT where the file system allows it) ...
    auto* a = static_cast<uint8_t*>(std::aligned_alloc(4096, 8192));
    std::fill(a, a + 8192, uint8_t{1});
    std::fill(a + 4096, a + 8192, uint8_t{2});
    std::vector<std::span<const uint8_t>> aligned{std::span<const uint8_t>(a + 4096, 4096),
                                                  std::span<const uint8_t>(a, 4096)};
    REQUIRE(dev->write_uncached(8192, aligned));
    // ... and unaligned ones (through the page cache).
    std::vector<uint8_t> odd(100, 3);
    std::vector<std::span<const uint8_t>> unaligned{std::span<const uint8_t>(odd).first(10),
                                                    std::span<const uint8_t>(odd).subspan(10)};
    REQUIRE(dev->write_uncached(4096 + 7, unaligned));
    std::free(a);
    CHECK(dev->size() == 16384);
    CHECK(stat_size(path) == 16384);
    auto bytes = test::read_file(path);
    CHECK(bytes[4095] == 0xee);
    CHECK(bytes[4096 + 6] == 0);
    CHECK(bytes[4096 + 7] == 3);
    CHECK(bytes[4096 + 106] == 3);
    CHECK(bytes[4096 + 107] == 0);
    CHECK(bytes[8192] == 2);
    CHECK(bytes[12287] == 2);
    CHECK(bytes[12288] == 1);
    CHECK(bytes[16383] == 1);
}

TEST_CASE("FileDevice::map shows the bytes at any offset, and nothing past the end")
{
    test::TempDir dir;
    std::string path = dir.file("img");
    std::vector<uint8_t> content(3 * 4096 + 5);
    for (size_t i = 0; i < content.size(); ++i)
        content[i] = static_cast<uint8_t>(i * 7);
    test::write_file(path, content);
    // Without a lock (-U) nothing keeps a writer from shrinking the file
    // under a mapping: no mapping then, the caller reads instead.
    auto unlocked = io::FileDevice::open(path, io::Access::read_only, io::LockMode::none);
    REQUIRE(unlocked);
    CHECK((*unlocked)->map(4097, 2 * 4096) == nullptr);
    auto dev = io::FileDevice::open(path, io::Access::read_only, io::LockMode::shared_read);
    REQUIRE(dev);
    auto m = (*dev)->map(4097, 2 * 4096);
    REQUIRE(m);
    REQUIRE(m->bytes().size() == 2 * 4096);
    CHECK(std::equal(m->bytes().begin(), m->bytes().end(), content.begin() + 4097));
    CHECK((*dev)->map(4096, 3 * 4096) == nullptr); // 5 bytes short
    CHECK((*dev)->map(0, 0) == nullptr);
}
