// A backing chain: the image and its backing files, top first. Backing
// names resolve relative to the overlay's folder; the backing-format
// extension is honoured (else the format is probed); loops and chains
// deeper than 64 are refused.
#pragma once

#include "formats/layer.hpp"
#include "formats/probe.hpp"
#include "io/lock.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace imgmend::formats {

struct OpenOptions {
    std::optional<Format> format; // -f; probed when absent
    io::LockMode lock = io::LockMode::shared_read;
    enum class Backing { open, skip } backing = Backing::open;
};

// Where a range of guest bytes comes from, through the whole chain.
struct ChainStatus {
    uint64_t length = 0;
    int depth = 0;        // the layer that answered
    bool present = false; // that layer itself holds data or zeros
    bool data = false;
    bool zero = false;
    bool compressed = false;
    std::optional<uint64_t> offset;
    io::BlockDevice* file = nullptr; // where offset points
};

class Chain {
public:
    static Result<Chain> open(const std::string& path, const OpenOptions& options);

    uint64_t size() const { return layers_.front()->size(); }
    size_t depth() const { return layers_.size(); }
    Layer& layer(size_t index) { return *layers_[index]; }
    Layer& top() { return *layers_.front(); }

    // Status of the run at `offset` through the chain (offset < size()).
    Result<ChainStatus> status(uint64_t offset, uint64_t max_length);
    // What the guest reads at [offset, offset + out.size()).
    Result<void> read(uint64_t offset, std::span<uint8_t> out);

private:
    std::vector<std::unique_ptr<Layer>> layers_;
};

// Resolves a backing name as qemu does: absolute names as they are, others
// relative to the folder of the overlay's path.
std::string resolve_backing_path(const std::string& overlay_path, const std::string& backing_name);

// Opens one image (no backing files) as a layer.
Result<std::unique_ptr<Layer>> open_layer(const std::string& path, std::optional<Format> format, io::LockMode lock);

} // namespace imgmend::formats
