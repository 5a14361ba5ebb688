// Byte totals per class over a map, and a fragmentation figure: the share of
// local data extents whose host offset does not continue the previous one.
#pragma once

#include "map/map.hpp"

namespace imgmend::map {

struct Totals {
    uint64_t data_local = 0;   // data stored in the top image
    uint64_t data_backing = 0; // data read from a backing file
    uint64_t zero = 0;         // reads as zeros (allocated as zero somewhere)
    uint64_t unallocated = 0;  // nothing anywhere in the chain: zeros
    uint64_t compressed = 0;   // part of data_local/data_backing that is compressed
    uint64_t local_extents = 0;
    uint64_t fragmented_extents = 0;

    void add(const MapEntry& e);
    double fragmentation_percent() const;

private:
    std::optional<uint64_t> next_host_;
};

} // namespace imgmend::map
