// Test helper: writes the guest view of an image (through its chain) to a
// raw file, sparse where the chain reads zeros without data, so tests can
// compare our reader with `qemu-img convert -O raw` via `cmp`.
#include "formats/chain.hpp"

#include <algorithm>
#include <cstdio>
#include <fcntl.h>
#include <fmt/format.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace imgmend;

int main(int argc, char** argv)
{
    if (argc != 3 && argc != 5) {
        fmt::print(stderr, "usage: guest_read [-f FMT] IMAGE OUT.raw\n");
        return 2;
    }
    formats::OpenOptions options;
    options.lock = io::LockMode::none;
    int arg = 1;
    if (argc == 5) {
        auto f = formats::parse_format(argv[2]);
        if (!f) {
            fmt::print(stderr, "guest_read: {}\n", f.error().message);
            return 1;
        }
        options.format = *f;
        arg = 3;
    }
    auto chain = formats::Chain::open(argv[arg], options);
    if (!chain) {
        fmt::print(stderr, "guest_read: {}\n", chain.error().message);
        return 1;
    }
    int fd = ::open(argv[arg + 1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(chain->size())) != 0) {
        fmt::print(stderr, "guest_read: cannot create {}\n", argv[arg + 1]);
        return 1;
    }
    std::vector<uint8_t> buffer(1 << 20);
    for (uint64_t pos = 0; pos < chain->size();) {
        auto status = chain->status(pos, std::min<uint64_t>(buffer.size(), chain->size() - pos));
        if (!status) {
            fmt::print(stderr, "guest_read: {}\n", status.error().message);
            return 1;
        }
        uint64_t n = status->length;
        if (status->data) {
            auto piece = std::span<uint8_t>(buffer).first(n);
            auto r = chain->read(pos, piece);
            if (!r) {
                fmt::print(stderr, "guest_read: {}\n", r.error().message);
                return 1;
            }
            if (pwrite(fd, piece.data(), n, static_cast<off_t>(pos)) != static_cast<ssize_t>(n)) {
                fmt::print(stderr, "guest_read: write failed\n");
                return 1;
            }
        }
        pos += n;
    }
    close(fd);
    return 0;
}
