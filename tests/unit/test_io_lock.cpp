#include "fixtures/temp_dir.hpp"
#include "io/file_device.hpp"
#include "io/lock.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <initializer_list>
#include <vector>

using namespace imgmend;
using io::LockMode;
using util::Errc;
using util::Result;

namespace {

// An open file description closed on scope exit (which drops its OFD locks).
struct Fd {
    explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDWR | O_CLOEXEC)) { REQUIRE(fd >= 0); }
    ~Fd() { ::close(fd); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int fd;
};

// Read-locks single bytes the way another qemu process would.
void hold_bytes(const Fd& f, std::initializer_list<off_t> bytes)
{
    for (off_t at : bytes) {
        struct flock fl {};
        fl.l_type = F_RDLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = at;
        fl.l_len = 1;
        REQUIRE(fcntl(f.fd, F_OFD_SETLK, &fl) == 0);
    }
}

// Is byte `at` read-locked by an open file description other than f's?
bool locked_by_other(const Fd& f, off_t at)
{
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = at;
    fl.l_len = 1;
    REQUIRE(fcntl(f.fd, F_OFD_GETLK, &fl) == 0);
    return fl.l_type != F_UNLCK;
}

Result<std::shared_ptr<io::FileDevice>> open_with(const std::string& path, LockMode mode)
{
    return io::FileDevice::open(path, mode == LockMode::write ? io::Access::read_write : io::Access::read_only, mode);
}

struct LockDir {
    test::TempDir dir;
    std::string path = dir.file("locked.qcow2");
    LockDir() { test::write_file(path, std::vector<uint8_t>(4096, 0)); }
};

} // namespace

TEST_CASE("two shared readers may open the same image")
{
    LockDir d;
    auto a = open_with(d.path, LockMode::shared_read);
    REQUIRE(a);
    auto b = open_with(d.path, LockMode::shared_read);
    CHECK(b);
}

TEST_CASE("a writer is refused while a shared reader holds the image")
{
    LockDir d;
    auto reader = open_with(d.path, LockMode::shared_read);
    REQUIRE(reader);
    auto writer = open_with(d.path, LockMode::write);
    REQUIRE_FALSE(writer);
    CHECK(writer.error().code == Errc::in_use);
    CHECK(writer.error().message.find(d.path) != std::string::npos);
}

TEST_CASE("a reader or a second writer is refused while a writer holds the image")
{
    LockDir d;
    auto writer = open_with(d.path, LockMode::write);
    REQUIRE(writer);
    auto reader = open_with(d.path, LockMode::shared_read);
    REQUIRE_FALSE(reader);
    CHECK(reader.error().code == Errc::in_use);
    auto second = open_with(d.path, LockMode::write);
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Errc::in_use);
    // --force-share takes and tests nothing.
    CHECK(open_with(d.path, LockMode::none));
}

TEST_CASE("closing the holder, and a refused open, release their locks")
{
    LockDir d;
    {
        auto reader = open_with(d.path, LockMode::shared_read);
        REQUIRE(reader);
        CHECK_FALSE(open_with(d.path, LockMode::write)); // refused: must not keep its locks
    }
    // Neither the reader nor the refused writer holds anything now.
    auto writer = open_with(d.path, LockMode::write);
    CHECK(writer);
}

TEST_CASE("acquire_lock takes qemu's bytes for each mode")
{
    LockDir d;
    Fd probe(d.path);
    SUBCASE("shared_read holds consistent-read and refuses write")
    {
        Fd f(d.path);
        REQUIRE(io::acquire_lock(f.fd, d.path, LockMode::shared_read));
        CHECK(locked_by_other(probe, 100));
        CHECK(locked_by_other(probe, 201));
        CHECK_FALSE(locked_by_other(probe, 101));
        CHECK_FALSE(locked_by_other(probe, 200));
        CHECK_FALSE(locked_by_other(probe, 103));
    }
    SUBCASE("write holds read, write, resize and refuses write and resize")
    {
        Fd f(d.path);
        REQUIRE(io::acquire_lock(f.fd, d.path, LockMode::write));
        for (off_t at : {100, 101, 103, 201, 203})
            CHECK(locked_by_other(probe, at));
        for (off_t at : {102, 200, 202})
            CHECK_FALSE(locked_by_other(probe, at));
    }
    SUBCASE("none takes nothing")
    {
        Fd f(d.path);
        REQUIRE(io::acquire_lock(f.fd, d.path, LockMode::none));
        for (off_t at : {100, 101, 102, 103, 200, 201, 202, 203})
            CHECK_FALSE(locked_by_other(probe, at));
    }
}

TEST_CASE("acquire_lock honours locks held by a running qemu")
{
    LockDir d;
    SUBCASE("a VM writer (100, 101, 103, 201, 203) blocks readers and writers")
    {
        Fd vm(d.path);
        hold_bytes(vm, {100, 101, 103, 201, 203});
        Fd r(d.path);
        auto read = io::acquire_lock(r.fd, d.path, LockMode::shared_read);
        REQUIRE_FALSE(read);
        CHECK(read.error().code == Errc::in_use);
        Fd w(d.path);
        auto write = io::acquire_lock(w.fd, d.path, LockMode::write);
        REQUIRE_FALSE(write);
        CHECK(write.error().code == Errc::in_use);
    }
    SUBCASE("a plain consistent reader (100 only) shares everything")
    {
        Fd other(d.path);
        hold_bytes(other, {100});
        Fd w(d.path);
        CHECK(io::acquire_lock(w.fd, d.path, LockMode::write));
    }
    SUBCASE("a holder refusing to share consistent read (200) blocks every reader")
    {
        Fd other(d.path);
        hold_bytes(other, {200});
        Fd r(d.path);
        auto read = io::acquire_lock(r.fd, d.path, LockMode::shared_read);
        REQUIRE_FALSE(read);
        CHECK(read.error().code == Errc::in_use);
    }
    SUBCASE("a holder refusing to share resize (203) blocks a writer but not a reader")
    {
        Fd other(d.path);
        hold_bytes(other, {203});
        Fd r(d.path);
        CHECK(io::acquire_lock(r.fd, d.path, LockMode::shared_read));
        Fd w(d.path);
        CHECK_FALSE(io::acquire_lock(w.fd, d.path, LockMode::write));
    }
}

TEST_CASE("writer_present sees another process's write permission only")
{
    LockDir d;
    auto me = open_with(d.path, LockMode::none);
    REQUIRE(me);
    CHECK_FALSE((*me)->writer_present());
    {
        auto reader = open_with(d.path, LockMode::shared_read);
        REQUIRE(reader);
        CHECK_FALSE((*me)->writer_present());
    }
    {
        Fd vm(d.path);
        hold_bytes(vm, {100, 101, 103, 201, 203});
        CHECK((*me)->writer_present());
    }
    CHECK_FALSE((*me)->writer_present()); // the writer has gone
    // Our own write lock is not "another" writer.
    auto writer = open_with(d.path, LockMode::write);
    REQUIRE(writer);
    CHECK_FALSE((*writer)->writer_present());
    CHECK((*me)->writer_present());
}
