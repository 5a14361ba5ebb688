// The allocation map of a chain: maximal runs of guest bytes with the same
// depth, presence, zero/data flags, filename and contiguous host offset,
// exactly as qemu-img map merges them.
#pragma once

#include "formats/chain.hpp"

#include <functional>
#include <optional>
#include <string>

namespace imgmend::map {

using util::Result;

struct MapEntry {
    uint64_t start = 0;
    uint64_t length = 0;
    int depth = 0;
    bool present = false;
    bool zero = false;
    bool data = false;
    bool compressed = false;
    std::optional<uint64_t> offset;
    std::string filename; // set when offset is

    uint64_t end() const { return start + length; }
};

// Can `next` extend `current` (adjacent, same attributes, contiguous host)?
bool can_merge(const MapEntry& current, const MapEntry& next);

using EmitFn = std::function<Result<void>(const MapEntry&)>;
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Emits the merged entries for [start, end) in order (end is clipped to the
// image size). `progress` (optional) sees the guest bytes covered so far.
Result<void> map_chain(formats::Chain& chain, uint64_t start, uint64_t end, const EmitFn& emit,
                       const ProgressFn& progress = {});

} // namespace imgmend::map
