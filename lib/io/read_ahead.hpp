// Reads a list of equal-sized regions (tables: L2 tables, refcount blocks)
// in order on a background thread, a bounded number ahead of the consumer,
// so copying them from the host overlaps with the work done on them (a
// short list is read on demand instead). Memory stays bounded by a few
// buffers (about 1 MiB) whatever the list's length.
#pragma once

#include "io/block_device.hpp"

#include <atomic>
#include <thread>

namespace imgmend::io {

class ReadAhead {
public:
    // Each region is read with read_zero_padded (past the end reads zeros).
    // The device must not be read by anyone else until this is destroyed.
    ReadAhead(BlockDevice& dev, std::vector<uint64_t> offsets, size_t length);
    ~ReadAhead();
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    // The next region's bytes, valid until the following call; its read
    // error instead when it could not be read. Call at most once per offset.
    Result<std::span<const uint8_t>> next();

private:
    struct Slot {
        std::unique_ptr<uint8_t[]> bytes;
        Result<void> status;
    };
    void produce();

    BlockDevice& dev_;
    std::vector<uint64_t> offsets_;
    size_t length_;
    std::vector<Slot> slots_;
    // The worker and the consumer meet through these two counters (waiting
    // on them only when one is ahead of the other).
    std::atomic<size_t> produced_ = 0; // regions read
    std::atomic<size_t> released_ = 0; // regions the consumer is done with
    std::atomic<bool> stop_ = false;
    size_t release_batch_; // slots handed back to the worker at a time
    size_t handed_ = 0;    // regions handed out (consumer only)
    std::thread worker_;
};

} // namespace imgmend::io
