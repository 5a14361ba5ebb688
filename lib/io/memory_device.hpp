// An in-memory BlockDevice for tests: records every write, can fail write N
// or "crash" after write N (every later write and flush fails, so the
// operation stops where a power cut would have stopped it), and remembers
// the content as of the last flush.
#pragma once

#include "io/block_device.hpp"

#include <atomic>
#include <optional>
#include <vector>

namespace imgmend::io {

struct WriteRecord {
    uint64_t offset;
    uint64_t length;
};

class MemoryDevice final : public BlockDevice {
public:
    explicit MemoryDevice(std::vector<uint8_t> bytes = {}, std::string name = "memory")
        : name_(std::move(name)), bytes_(std::move(bytes)), flushed_(bytes_)
    {
    }

    const std::string& name() const override { return name_; }
    uint64_t size() const override { return bytes_.size(); }
    Result<void> read(uint64_t offset, std::span<uint8_t> out) override;
    Result<void> write(uint64_t offset, std::span<const uint8_t> in) override;
    Result<void> flush() override;
    bool can_resize() const override { return resizable_; }
    Result<void> resize(uint64_t new_size) override;
    Result<void> discard(uint64_t offset, uint64_t length) override;
    Result<AllocationRun> allocation_at(uint64_t offset) override;
    uint64_t allocated_bytes() const override { return bytes_.size(); }

    // Test controls.
    void fail_write(size_t index) { fail_at_ = index; }       // write #index returns an error
    void crash_after_write(size_t count) { crash_after_ = count; } // writes > count are lost
    void set_resizable(bool resizable) { resizable_ = resizable; }
    void set_size_limit(uint64_t limit) { size_limit_ = limit; }

    const std::vector<WriteRecord>& writes() const { return writes_; }
    const std::vector<uint8_t>& bytes() const { return bytes_; }
    // What survives a power cut: the content at the last successful flush.
    const std::vector<uint8_t>& flushed_bytes() const { return flushed_; }
    size_t reads() const { return reads_; }

private:
    bool crashed() const { return crash_after_ && writes_.size() >= *crash_after_; }

    std::string name_;
    std::vector<uint8_t> bytes_;
    std::vector<uint8_t> flushed_;
    std::vector<WriteRecord> writes_;
    std::optional<size_t> fail_at_;
    std::optional<size_t> crash_after_;
    std::optional<uint64_t> size_limit_;
    bool resizable_ = true;
    std::atomic<size_t> reads_ = 0; // read from a read-ahead thread too
    size_t attempts_ = 0; // writes tried, failed ones included
};

} // namespace imgmend::io
