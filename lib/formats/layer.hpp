// One image in a backing chain, seen through the block-status model the
// map and the guest reader share: each range is data, zero, or unallocated
// (defer to the backing file).
#pragma once

#include "io/block_device.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace imgmend::formats {

using util::Result;

struct LayerStatus {
    uint64_t length = 0;
    bool data = false;
    bool zero = false; // neither data nor zero: unallocated here
    std::optional<uint64_t> offset; // host offset in `file`, when there is one
    io::BlockDevice* file = nullptr;
    bool compressed = false;

    bool allocated() const { return data || zero; }
};

class Layer {
public:
    virtual ~Layer() = default;
    virtual std::string_view format() const = 0;
    virtual const std::string& filename() const = 0;
    // The size the guest sees (qemu rounds it up to whole 512-byte sectors).
    virtual uint64_t size() const = 0;
    virtual bool supports_backing() const = 0;
    virtual std::optional<std::string> backing_name() const { return std::nullopt; }
    virtual std::optional<std::string> backing_format() const { return std::nullopt; }

    // The run at `offset` (offset < size()), at most max_length bytes.
    virtual Result<LayerStatus> status(uint64_t offset, uint64_t max_length) = 0;
    // Reads a run this layer reported as data.
    virtual Result<void> read(uint64_t offset, const LayerStatus& status, std::span<uint8_t> out) = 0;
};

// qemu's view of a device size: whole 512-byte sectors.
uint64_t sector_rounded(uint64_t bytes);

} // namespace imgmend::formats
