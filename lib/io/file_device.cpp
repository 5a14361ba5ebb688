#include "io/file_device.hpp"

#include "util/checked.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace imgmend::io {

using util::Errc;
using util::fail;

namespace {

util::Unexpected os_error(std::string_view what, const std::string& path)
{
    Errc code = errno == ENOENT ? Errc::not_found : Errc::io;
    return util::Unexpected{util::Error{code, fmt::format("{} '{}': {}", what, path, strerror(errno)), {}}};
}

} // namespace

Result<std::shared_ptr<FileDevice>> FileDevice::open(const std::string& path, Access access,
                                                     LockMode lock)
{
    int flags = (access == Access::read_write ? O_RDWR : O_RDONLY) | O_CLOEXEC;
    int fd = ::open(path.c_str(), flags);
    if (fd < 0)
        return os_error("Could not open", path);
    std::shared_ptr<FileDevice> dev(new FileDevice(path, fd));
    struct stat st {};
    if (fstat(fd, &st) != 0)
        return os_error("Could not stat", path);
    if (S_ISDIR(st.st_mode))
        return fail(Errc::invalid_argument, "'{}' is a directory", path);
    dev->dev_ = st.st_dev;
    dev->ino_ = st.st_ino;
    dev->is_block_device_ = S_ISBLK(st.st_mode);
    TRY(dev->refresh_size());
    TRY(acquire_lock(fd, path, lock));
    dev->locked_ = lock != LockMode::none;
    return dev;
}

FileDevice::~FileDevice() { ::close(fd_); }

Result<void> FileDevice::refresh_size()
{
    if (is_block_device_) {
        uint64_t bytes = 0;
        if (ioctl(fd_, BLKGETSIZE64, &bytes) != 0)
            return os_error("Could not get the size of", path_);
        size_ = bytes;
        return {};
    }
    struct stat st {};
    if (fstat(fd_, &st) != 0)
        return os_error("Could not stat", path_);
    size_ = static_cast<uint64_t>(st.st_size);
    return {};
}

Result<void> FileDevice::read(uint64_t offset, std::span<uint8_t> out)
{
    if (!util::range_within(offset, out.size(), size_))
        return util::Unexpected{util::Error{
            Errc::truncated,
            fmt::format("read of {} bytes at {:#x} is beyond the end of '{}'", out.size(), offset, path_),
            offset}};
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return os_error("Could not read", path_);
        if (n == 0)
            return fail(Errc::truncated, "'{}' shrank while being read", path_);
        done += static_cast<size_t>(n);
    }
    return {};
}

Result<void> FileDevice::write(uint64_t offset, std::span<const uint8_t> in)
{
    size_t done = 0;
    while (done < in.size()) {
        ssize_t n = ::pwrite(fd_, in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return os_error("Could not write", path_);
        done += static_cast<size_t>(n);
    }
    if (!is_block_device_ && !in.empty() && offset + in.size() > size_)
        size_ = offset + in.size();
    return {};
}

Result<void> FileDevice::write_uncached(uint64_t offset, std::span<const std::span<const uint8_t>> parts)
{
    // 4 KiB covers the logical block size of every disk O_DIRECT may meet.
    constexpr uint64_t align = 4096;
    bool aligned = direct_works_ && offset % align == 0 && parts.size() <= IOV_MAX;
    std::vector<iovec> iov;
    uint64_t total = 0;
    for (const auto& part : parts) {
        aligned &= part.size() % align == 0 && reinterpret_cast<uintptr_t>(part.data()) % align == 0;
        iov.push_back({const_cast<uint8_t*>(part.data()), part.size()});
        total += part.size();
    }
    int flags = aligned ? ::fcntl(fd_, F_GETFL) : -1;
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_DIRECT) != 0)
        return BlockDevice::write_uncached(offset, parts);
    ssize_t n = 0;
    do
        n = ::pwritev(fd_, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    while (n < 0 && errno == EINTR);
    int error = n < 0 ? errno : 0;
    (void)::fcntl(fd_, F_SETFL, flags);
    if (n == static_cast<ssize_t>(total)) {
        if (!is_block_device_ && offset + total > size_)
            size_ = offset + total;
        return {};
    }
    if (error == EINVAL) // the file system refuses O_DIRECT here
        direct_works_ = false;
    // Short or refused: the same bytes again through the page cache.
    return BlockDevice::write_uncached(offset, parts);
}

namespace {

class FileMapping final : public Mapping {
public:
    FileMapping(void* base, size_t length, size_t skip, size_t size)
        : base_(base), length_(length), bytes_(static_cast<const uint8_t*>(base) + skip, size)
    {
    }
    ~FileMapping() override { ::munmap(base_, length_); }
    FileMapping(const FileMapping&) = delete;
    FileMapping& operator=(const FileMapping&) = delete;
    std::span<const uint8_t> bytes() const override { return bytes_; }

private:
    void* base_;
    size_t length_;
    std::span<const uint8_t> bytes_;
};

} // namespace

std::unique_ptr<Mapping> FileDevice::map(uint64_t offset, uint64_t length)
{
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    if (!locked_ || length == 0 || !util::range_within(offset, length, size_))
        return nullptr;
    uint64_t start = util::align_down(offset, page);
    size_t span = static_cast<size_t>(offset + length - start);
    // MAP_POPULATE: the pages are read anyway, so map them in one go rather
    // than one fault at a time.
    void* base = ::mmap(nullptr, span, PROT_READ, MAP_SHARED | MAP_POPULATE, fd_, static_cast<off_t>(start));
    if (base == MAP_FAILED)
        return nullptr;
    return std::make_unique<FileMapping>(base, span, static_cast<size_t>(offset - start), static_cast<size_t>(length));
}

Result<void> FileDevice::flush()
{
    if (::fsync(fd_) != 0)
        return os_error("Could not fsync", path_);
    return {};
}

Result<void> FileDevice::resize(uint64_t new_size)
{
    if (is_block_device_)
        return fail(Errc::no_space, "'{}' is a block device and cannot be resized", path_);
    if (::ftruncate(fd_, static_cast<off_t>(new_size)) != 0)
        return os_error("Could not resize", path_);
    size_ = new_size;
    return {};
}

Result<void> FileDevice::discard(uint64_t offset, uint64_t length)
{
    if (length == 0)
        return {};
    int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    if (::fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0)
        return {};
    // Hole punching is an optimisation; where unsupported, write zeros so the
    // range still reads back as zeros.
    std::vector<uint8_t> zeros(std::min<uint64_t>(length, 1 << 20), 0);
    for (uint64_t done = 0; done < length;) {
        uint64_t chunk = std::min<uint64_t>(zeros.size(), length - done);
        TRY(write(offset + done, std::span<const uint8_t>(zeros).first(chunk)));
        done += chunk;
    }
    return {};
}

Result<AllocationRun> FileDevice::allocation_at(uint64_t offset)
{
    if (offset >= size_)
        return AllocationRun{Allocation::hole, 0};
    off_t data = ::lseek(fd_, static_cast<off_t>(offset), SEEK_DATA);
    if (data < 0 && errno == ENXIO) // only a hole remains up to the end
        return AllocationRun{Allocation::hole, size_ - offset};
    if (data < 0) // no SEEK_DATA support: report everything as data
        return AllocationRun{Allocation::data, size_ - offset};
    if (static_cast<uint64_t>(data) > offset)
        return AllocationRun{Allocation::hole, std::min<uint64_t>(data, size_) - offset};
    off_t hole = ::lseek(fd_, static_cast<off_t>(offset), SEEK_HOLE);
    if (hole < 0)
        return AllocationRun{Allocation::data, size_ - offset};
    return AllocationRun{Allocation::data, std::min<uint64_t>(hole, size_) - offset};
}

void FileDevice::will_need(uint64_t offset, uint64_t length)
{
    (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length), POSIX_FADV_WILLNEED);
}

uint64_t FileDevice::allocated_bytes() const
{
    struct stat st {};
    if (fstat(fd_, &st) != 0)
        return size_;
    return static_cast<uint64_t>(st.st_blocks) * 512;
}

} // namespace imgmend::io
