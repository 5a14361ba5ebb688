#include "check/data_cluster_counter.hpp"

#include "qcow2/l2_entry.hpp"

#include <boost/endian/conversion.hpp>

namespace imgmend::check {

namespace {
// Bits that make a standard L2 entry something other than an ordinary
// (possibly preallocated-zero) data cluster: compressed, or reserved.
constexpr uint64_t not_ordinary = qcow2::oflag_compressed | 0x3f000000000001feull;
constexpr size_t prefetch_distance = 1024; // bytes
} // namespace

size_t DataClusterCounter::count_run(const uint8_t* table, size_t first, size_t end, RunFigures& figures) const
{
    // Everything the loop touches is a local: the stores into the counts
    // (bytes) could otherwise alias it and force reloads on every entry.
    const uint64_t* metadata = metadata_use_.words();
    const uint64_t clusters = file_clusters_;
    const uint32_t bits = cluster_bits_;
    // Anything but an aligned, uncompressed cluster with no reserved bit:
    // one test (the zero flag, bit 0, is fine: preallocated zero clusters
    // count like data).
    const uint64_t unusual = not_ordinary | (((uint64_t{1} << bits) - 1) & qcow2::offset_mask);
    const uint64_t cluster_size = uint64_t{1} << bits;
    const uint8_t limit = shareable_ ? ClusterCounts::escape - 1 : 1;
    uint8_t* counts = counts_.mutable_bytes();
    uint64_t allocated = figures.allocated;
    uint64_t fragmented = figures.fragmented;
    uint64_t next = figures.next_contiguous;
    uint64_t copied = 1;
    // One instance for byte counts, one for the packed narrow widths.
    auto run = [&]<bool Bytes>() {
        size_t j = first;
        for (; j < end; ++j) {
            // The table was just copied in on another core: ask for the
            // lines ahead early rather than stall on each.
            if (j % 8 == 0)
                __builtin_prefetch(table + j * 8 + prefetch_distance);
            uint64_t raw = boost::endian::load_big_u64(table + j * 8);
            if (raw <= qcow2::oflag_zero)
                continue; // unallocated, or a zero cluster without one
            uint64_t offset = raw & qcow2::offset_mask;
            uint64_t k = offset >> bits;
            // (Cluster 0, the header, is metadata: an offset of 0 stops here too.)
            if ((raw & unusual) || k >= clusters || ((metadata[k / 64] >> (k % 64)) & 1))
                break;
            if constexpr (Bytes) {
                if (counts[k] >= limit)
                    break;
                ++counts[k];
            } else if ((!shareable_ && counts_.get(k) != 0) || !counts_.increment(k)) {
                break;
            }
            ++allocated;
            fragmented += (next != 0) & (offset != next);
            next = offset + cluster_size;
            copied &= raw >> 63;
        }
        return j;
    };
    size_t stop = counts ? run.operator()<true>() : run.operator()<false>();
    figures.allocated = allocated;
    figures.fragmented = fragmented;
    figures.next_contiguous = next;
    figures.all_copied = figures.all_copied && copied;
    return stop;
}

} // namespace imgmend::check
