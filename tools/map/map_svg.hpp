// imgmend-map --output=svg: the guest address space as a bar (local data,
// data from each backing depth, zero, unallocated, compressed) with a
// legend, and the host file's layout under it, each host extent coloured by
// where it sits in the guest, so fragmentation shows as a jumble of colours.
#pragma once

#include "map/map.hpp"

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace imgmend::tools {

class SvgMap {
public:
    SvgMap(uint64_t guest_start, uint64_t guest_end);
    void add(const map::MapEntry& e);
    void render(std::FILE* out, const std::string& title) const;

    static constexpr size_t columns = 1000;
    static constexpr size_t max_depth_colours = 4;
    // Classes: 0 local data, 1..4 backing depth 1..4+, 5 zero, 6 unallocated, 7 compressed.
    static constexpr size_t classes = 8;

private:
    struct HostExtent {
        uint64_t offset, length, guest;
    };
    uint64_t start_, end_;
    std::vector<std::array<uint64_t, classes>> guest_bytes_;
    std::vector<HostExtent> host_;
    uint64_t host_end_ = 0;
};

} // namespace imgmend::tools
