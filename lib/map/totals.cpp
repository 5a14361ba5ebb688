#include "map/totals.hpp"

namespace imgmend::map {

void Totals::add(const MapEntry& e)
{
    if (!e.present) {
        unallocated += e.length;
        return;
    }
    if (e.zero) {
        zero += e.length;
        return;
    }
    if (e.compressed)
        compressed += e.length;
    if (e.depth > 0) {
        data_backing += e.length;
        return;
    }
    data_local += e.length;
    if (!e.offset)
        return;
    ++local_extents;
    if (next_host_ && *next_host_ != *e.offset)
        ++fragmented_extents;
    next_host_ = *e.offset + e.length;
}

double Totals::fragmentation_percent() const
{
    return local_extents == 0 ? 0.0 : 100.0 * static_cast<double>(fragmented_extents) / static_cast<double>(local_extents);
}

} // namespace imgmend::map
