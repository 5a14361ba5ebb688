#include "qcow2/l2_entry.hpp"

namespace imgmend::qcow2 {

namespace {
constexpr uint64_t all_alloc_bits = 0xffffffffull;
}

SubclusterKind subcluster_kind(const Geometry& g, L2Entry e, uint32_t sc)
{
    if (e.compressed())
        return SubclusterKind::compressed;
    uint64_t offset = e.host_offset();
    // With an external data file, offset 0 is a real offset; COPIED then
    // tells an allocated cluster from an unallocated one.
    bool has_cluster = offset != 0 || (g.data_file && e.copied());
    if (g.subclusters == 1) {
        if (e.raw & oflag_zero)
            return has_cluster ? SubclusterKind::zero_alloc : SubclusterKind::zero_plain;
        return has_cluster ? SubclusterKind::normal : SubclusterKind::unallocated_plain;
    }
    uint64_t alloc = e.bitmap & all_alloc_bits;
    uint64_t zero = e.bitmap >> 32;
    bool sc_zero = (zero >> sc) & 1;
    bool sc_alloc = (alloc >> sc) & 1;
    if (!has_cluster) {
        // Without a host cluster nothing can be allocated.
        if (alloc)
            return SubclusterKind::invalid;
        return sc_zero ? SubclusterKind::zero_plain : SubclusterKind::unallocated_plain;
    }
    if (alloc & zero)
        return SubclusterKind::invalid;
    if (sc_zero)
        return SubclusterKind::zero_alloc;
    return sc_alloc ? SubclusterKind::normal : SubclusterKind::unallocated_alloc;
}

CompressedDescriptor compressed_descriptor(const Geometry& g, uint64_t raw)
{
    uint64_t offset = raw & ((uint64_t{1} << g.csize_shift) - 1);
    uint64_t sectors = ((raw >> g.csize_shift) & g.csize_mask) + 1;
    uint64_t end = (offset & ~uint64_t{511}) + sectors * 512;
    return {offset, end - offset};
}

} // namespace imgmend::qcow2
