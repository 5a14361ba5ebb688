#include "io/lock.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>

namespace imgmend::io {

using util::Errc;

namespace {

constexpr int perm_count = 4;
constexpr std::array<const char*, perm_count> perm_names{"consistent read", "write",
                                                         "write unchanged", "resize"};
constexpr off_t held_base = 100;
constexpr off_t unshared_base = 200;

struct Perms {
    std::array<bool, perm_count> wanted{};
    std::array<bool, perm_count> unshared{};
};

Perms perms_for(LockMode mode)
{
    Perms p;
    p.wanted[0] = true;
    p.unshared[1] = true;
    if (mode == LockMode::write) {
        p.wanted[1] = true;
        p.wanted[3] = true;
        p.unshared[3] = true;
    }
    return p;
}

// Is byte `at` read-locked by another open file description?
util::Result<bool> conflicts(int fd, off_t at)
{
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = at;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
        if (errno == EINVAL || errno == ENOTSUP)
            return false; // the filesystem has no OFD locks: nothing to honour
        return util::fail(Errc::io, "Could not test lock: {}", strerror(errno));
    }
    return fl.l_type != F_UNLCK;
}

util::Result<void> take(int fd, off_t at)
{
    struct flock fl {};
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = at;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0 && errno != EINVAL && errno != ENOTSUP)
        return util::fail(Errc::in_use, "Failed to lock byte {}: {}", at, strerror(errno));
    return {};
}

} // namespace

util::Result<void> acquire_lock(int fd, const std::string& path, LockMode mode)
{
    if (mode == LockMode::none)
        return {};
    Perms p = perms_for(mode);
    // Take ours first, then test, as qemu does: two openers racing both see
    // each other rather than both passing the test.
    for (int i = 0; i < perm_count; ++i) {
        if (p.wanted[i])
            TRY(take(fd, held_base + i));
        if (p.unshared[i])
            TRY(take(fd, unshared_base + i));
    }
    for (int i = 0; i < perm_count; ++i) {
        if (p.wanted[i] && TRY(conflicts(fd, unshared_base + i)))
            return util::fail(Errc::in_use, "Failed to get \"{}\" lock\nIs another process using the image [{}]?",
                              perm_names[i], path);
        if (p.unshared[i] && TRY(conflicts(fd, held_base + i)))
            return util::fail(Errc::in_use,
                              "Failed to get shared \"{}\" lock\nIs another process using the image [{}]?",
                              perm_names[i], path);
    }
    return {};
}

bool writer_present(int fd)
{
    auto c = conflicts(fd, held_base + 1);
    return c.has_value() && *c;
}

} // namespace imgmend::io
