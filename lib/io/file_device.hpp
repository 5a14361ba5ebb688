// BlockDevice over a regular file or a block device (pread/pwrite/fsync).
// A block device's size comes from the device (BLKGETSIZE64), not stat, and
// it cannot be resized.
#pragma once

#include "io/block_device.hpp"
#include "io/lock.hpp"

namespace imgmend::io {

enum class Access { read_only, read_write };

class FileDevice final : public BlockDevice {
public:
    static Result<std::shared_ptr<FileDevice>> open(const std::string& path, Access access,
                                                    LockMode lock);
    ~FileDevice() override;
    FileDevice(const FileDevice&) = delete;
    FileDevice& operator=(const FileDevice&) = delete;

    const std::string& name() const override { return path_; }
    uint64_t size() const override { return size_; }
    Result<void> read(uint64_t offset, std::span<uint8_t> out) override;
    Result<void> write(uint64_t offset, std::span<const uint8_t> in) override;
    Result<void> flush() override;
    bool can_resize() const override { return !is_block_device_; }
    Result<void> resize(uint64_t new_size) override;
    Result<void> discard(uint64_t offset, uint64_t length) override;
    Result<AllocationRun> allocation_at(uint64_t offset) override;
    uint64_t allocated_bytes() const override;
    void will_need(uint64_t offset, uint64_t length) override;
    // One O_DIRECT pwritev when the offset and every part are 4 KiB aligned.
    Result<void> write_uncached(uint64_t offset, std::span<const std::span<const uint8_t>> parts) override;
    // Only under a lock (LockMode other than none): a file another process
    // shrinks under a mapping kills the reader (SIGBUS) where pread would
    // only fail, and without a lock nothing keeps writers away.
    std::unique_ptr<Mapping> map(uint64_t offset, uint64_t length) override;
    // Does another process hold qemu's write permission on this file?
    bool writer_present() const { return io::writer_present(fd_); }

    // Identity of the underlying file, for loop detection in chains.
    uint64_t device_id() const { return dev_; }
    uint64_t inode() const { return ino_; }

private:
    FileDevice(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
    Result<void> refresh_size();

    std::string path_;
    int fd_;
    uint64_t size_ = 0;
    uint64_t dev_ = 0;
    uint64_t ino_ = 0;
    bool is_block_device_ = false;
    bool direct_works_ = true; // until O_DIRECT is refused once
    bool locked_ = false;      // opened with a qemu lock
};

} // namespace imgmend::io
