#include "map/map.hpp"

#include <algorithm>

namespace imgmend::map {

bool can_merge(const MapEntry& a, const MapEntry& b)
{
    if (a.end() != b.start || a.depth != b.depth || a.present != b.present || a.zero != b.zero ||
        a.data != b.data || a.compressed != b.compressed || a.offset.has_value() != b.offset.has_value() ||
        a.filename != b.filename)
        return false;
    return !a.offset || *a.offset + a.length == *b.offset;
}

Result<void> map_chain(formats::Chain& chain, uint64_t start, uint64_t end, const EmitFn& emit,
                       const ProgressFn& progress)
{
    end = std::min(end, chain.size());
    std::optional<MapEntry> pending;
    const io::BlockDevice* last_file = nullptr;
    std::string last_name;
    // Each status call covers at least one byte, so the loop ends.
    for (uint64_t pos = start; pos < end;) {
        formats::ChainStatus s = TRY(chain.status(pos, end - pos));
        MapEntry e;
        e.start = pos;
        e.length = s.length;
        e.depth = s.depth;
        e.present = s.present;
        e.zero = s.zero;
        e.data = s.data;
        e.compressed = s.compressed;
        e.offset = s.offset;
        if (s.offset && s.file) {
            if (s.file != last_file) {
                last_file = s.file;
                last_name = s.file->name();
            }
            e.filename = last_name;
        }
        if (pending && can_merge(*pending, e)) {
            pending->length += e.length;
        } else {
            if (pending)
                TRY(emit(*pending));
            pending = std::move(e);
        }
        pos += s.length;
        if (progress)
            progress(pos - start, end - start);
    }
    if (pending)
        return emit(*pending);
    // An empty window still gets one (empty) extent, as qemu-img prints it.
    MapEntry empty;
    empty.start = start;
    return emit(empty);
}

} // namespace imgmend::map
