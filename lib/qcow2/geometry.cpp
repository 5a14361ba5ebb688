#include "qcow2/geometry.hpp"

namespace imgmend::qcow2 {

Geometry make_geometry(const Header& h)
{
    Geometry g{};
    g.cluster_bits = h.cluster_bits;
    g.cluster_size = h.cluster_size();
    g.l2_entry_bytes = h.extended_l2() ? 16 : 8;
    g.l2_entries = g.cluster_size / g.l2_entry_bytes;
    g.subclusters = h.extended_l2() ? 32 : 1;
    g.subcluster_size = g.cluster_size / g.subclusters;
    g.csize_shift = 62 - (h.cluster_bits - 8);
    g.csize_mask = (uint64_t{1} << (h.cluster_bits - 8)) - 1;
    g.refcount_order = h.refcount_order;
    g.refcount_bits = 1u << h.refcount_order;
    g.refblock_entries = g.cluster_size * 8 / g.refcount_bits;
    g.virtual_size = h.size;
    g.data_file = h.has_data_file();
    return g;
}

} // namespace imgmend::qcow2
