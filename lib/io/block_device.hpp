// The disk behind a small interface: the library reads and writes images only
// through BlockDevice, so unit tests can run on memory, record every write and
// inject failures or crashes (see memory_device.hpp).
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace imgmend::io {

using util::Result;

enum class Allocation { data, hole };

// A run of bytes with the same allocation state in the host file.
struct AllocationRun {
    Allocation state;
    uint64_t length;
};

// Read-only bytes of a device mapped into memory (BlockDevice::map); they
// stay valid while the Mapping lives.
class Mapping {
public:
    virtual ~Mapping() = default;
    virtual std::span<const uint8_t> bytes() const = 0;
};

class BlockDevice {
public:
    virtual ~BlockDevice() = default;

    virtual const std::string& name() const = 0;
    virtual uint64_t size() const = 0;

    // Reads exactly out.size() bytes; a range past the end is an error.
    virtual Result<void> read(uint64_t offset, std::span<uint8_t> out) = 0;
    virtual Result<void> write(uint64_t offset, std::span<const uint8_t> in) = 0;
    virtual Result<void> flush() = 0;
    virtual bool can_resize() const = 0;
    virtual Result<void> resize(uint64_t new_size) = 0;
    // Deallocate a range (hole punch); reads return zeros afterwards.
    virtual Result<void> discard(uint64_t offset, uint64_t length) = 0;
    // Whether the host stores data at offset, and for how long that holds
    // (at most up to size()). Devices without the notion report data.
    virtual Result<AllocationRun> allocation_at(uint64_t offset) = 0;
    // Bytes the host actually stores (st_blocks * 512 for a file).
    virtual uint64_t allocated_bytes() const = 0;
    // A hint that [offset, offset + length) will be read soon, so the host
    // can fetch many scattered tables in parallel. Optional.
    virtual void will_need(uint64_t /*offset*/, uint64_t /*length*/) {}
    // Writes `parts` one after another from `offset`, for bulk data written
    // once and flushed soon after: the host may bypass its page cache (one
    // copy of every byte fewer) and send the parts as one request. Ordered
    // by flush() exactly like write().
    virtual Result<void> write_uncached(uint64_t offset, std::span<const std::span<const uint8_t>> parts);
    // [offset, offset + length) mapped read-only, for callers that only look
    // at the bytes (no copy); nullptr where the device cannot map it, and the
    // caller reads instead. The range must lie within size().
    virtual std::unique_ptr<Mapping> map(uint64_t /*offset*/, uint64_t /*length*/) { return nullptr; }

    // Reads what exists of [offset, offset + out.size()) and zero-fills the
    // part past the end, as a guest sees a short host file.
    Result<void> read_zero_padded(uint64_t offset, std::span<uint8_t> out);
};

using DevicePtr = std::shared_ptr<BlockDevice>;

// Reads a table of big-endian 64-bit entries, `bytes` long at `offset`.
// Only the part inside the device is read; entries past its end are left
// out (they read as zero, as qemu reads a short file), so the allocation is
// bounded by the device size as well as by the caller's cap.
Result<std::vector<uint64_t>> read_be64_table(BlockDevice& dev, uint64_t offset, uint64_t bytes);

} // namespace imgmend::io
