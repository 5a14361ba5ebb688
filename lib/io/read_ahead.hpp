// Reads a list of equal-sized regions (tables: L2 tables, refcount blocks)
// in order on a background thread, a bounded number ahead of the consumer,
// so copying them from the host overlaps with the work done on them. Memory
// stays bounded by `depth` buffers whatever the list's length.
#pragma once

#include "io/block_device.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace imgmend::io {

class ReadAhead {
public:
    // Each region is read with read_zero_padded (past the end reads zeros).
    // The device must not be read by anyone else until this is destroyed.
    ReadAhead(BlockDevice& dev, std::vector<uint64_t> offsets, size_t length, size_t depth = default_depth);
    ~ReadAhead();
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    // The next region's bytes, valid until the following call; its read
    // error instead when it could not be read. Call at most once per offset.
    Result<std::span<const uint8_t>> next();

    // Buffers ahead: enough to keep both threads busy, few enough to stay small.
    static constexpr size_t default_depth = 8;

private:
    struct Slot {
        std::vector<uint8_t> bytes;
        Result<void> status;
    };
    void produce();

    BlockDevice& dev_;
    std::vector<uint64_t> offsets_;
    std::vector<Slot> slots_;
    std::mutex mutex_;
    std::condition_variable changed_;
    size_t produced_ = 0; // regions read (guarded by mutex_)
    size_t consumed_ = 0; // regions handed out and released (guarded by mutex_)
    size_t handed_ = 0;   // regions handed out (consumer only)
    bool stop_ = false;
    std::thread worker_;
};

} // namespace imgmend::io
