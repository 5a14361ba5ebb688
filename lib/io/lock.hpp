// qemu's image locking protocol (../shared/ref/README.md, "Locking"): OFD
// byte-range read locks, byte 100+i for each permission held and 200+i for
// each permission a holder refuses to share. Permission bits: 0
// consistent-read, 1 write, 2 write-unchanged, 3 resize.
#pragma once

#include "util/result.hpp"

#include <string>

namespace imgmend::io {

enum class LockMode {
    none,        // -U / --force-share: take and test no locks
    shared_read, // a consistent reader: refuses to share write
    write,       // a writer: holds read/write/resize, shares none of write/resize
};

// Tests for conflicts and takes the locks on fd (held until it is closed).
util::Result<void> acquire_lock(int fd, const std::string& path, LockMode mode);

// Does another open file description hold the write permission (byte 101)?
bool writer_present(int fd);

} // namespace imgmend::io
