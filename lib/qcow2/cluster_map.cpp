// Guest-offset lookups through the active L1/L2 tables: range_status merges
// consecutive subclusters of one kind, read_allocated fetches their bytes.
#include "qcow2/compressed.hpp"
#include "qcow2/image.hpp"
#include "util/checked.hpp"

#include <algorithm>

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

namespace {

RangeKind kind_of(SubclusterKind k)
{
    switch (k) {
    case SubclusterKind::zero_plain:
    case SubclusterKind::zero_alloc: return RangeKind::zero;
    case SubclusterKind::normal: return RangeKind::data;
    case SubclusterKind::compressed: return RangeKind::compressed;
    default: return RangeKind::unallocated;
    }
}

// Kinds whose entry names a host cluster (qemu reports its offset even for
// subclusters that are not allocated yet).
bool has_host_offset(SubclusterKind k)
{
    return k == SubclusterKind::normal || k == SubclusterKind::zero_alloc || k == SubclusterKind::unallocated_alloc;
}

} // namespace

Result<RangeStatus> Image::range_status(uint64_t offset, uint64_t max_length)
{
    const Geometry& g = geometry_;
    if (offset >= g.virtual_size || max_length == 0)
        return fail(Errc::invalid_argument, "status query at {:#x} is outside the image", offset);
    max_length = std::min(max_length, g.virtual_size - offset);
    uint64_t l1_index = offset / g.bytes_per_l2();
    uint64_t l1 = l1_entry(l1_index);
    uint64_t l2_offset = l1 & offset_mask;
    if (l2_offset == 0) {
        // Extend over every following L1 entry that is also empty.
        uint64_t end = offset;
        for (uint64_t i = l1_index; end - offset < max_length && (l1_entry(i) & offset_mask) == 0; ++i)
            end = (i + 1) * g.bytes_per_l2();
        return RangeStatus{std::min(end - offset, max_length), RangeKind::unallocated, {}};
    }
    if (l2_offset % g.cluster_size != 0)
        return util::Unexpected{util::Error{
            Errc::corrupt_metadata,
            fmt::format("L2 table offset {:#x} unaligned (L1 index: {:#x})", l2_offset, l1_index), l2_offset}};
    return status_in_l2(offset, max_length, l2_offset);
}

Result<RangeStatus> Image::status_in_l2(uint64_t offset, uint64_t max_length, uint64_t l2_offset)
{
    const Geometry& g = geometry_;
    const L2Table& table = *TRY(l2_table(l2_offset));
    uint64_t l2_index = offset / g.cluster_size % g.l2_entries;
    uint32_t sc = static_cast<uint32_t>(offset % g.cluster_size / g.subcluster_size);
    SubclusterKind first = subcluster_kind(g, table[l2_index], sc);
    if (first == SubclusterKind::invalid)
        return util::Unexpected{util::Error{Errc::corrupt_metadata,
                                            fmt::format("Invalid cluster entry found (L2 offset: {:#x}, L2 index: {:#x})",
                                                        l2_offset, l2_index),
                                            l2_offset + l2_index * g.l2_entry_bytes}};
    std::optional<uint64_t> host;
    if (has_host_offset(first)) {
        uint64_t cluster_host = table[l2_index].host_offset();
        if (cluster_host % g.cluster_size != 0)
            return util::Unexpected{util::Error{
                Errc::corrupt_metadata,
                fmt::format("Cluster allocation offset {:#x} unaligned (L2 offset: {:#x}, L2 index: {:#x})",
                            cluster_host, l2_offset, l2_index),
                l2_offset + l2_index * g.l2_entry_bytes}};
        host = cluster_host + offset % g.cluster_size;
    }
    // Bytes covered so far: the rest of the first subcluster.
    uint64_t length = g.subcluster_size - offset % g.subcluster_size;
    if (first != SubclusterKind::compressed && g.subclusters == 1) {
        // Standard entries: a run continues while each entry's kind bits and
        // offset are the first one's plus one cluster per step (or equal,
        // without a host cluster). COPIED and reserved bits do not matter.
        const uint64_t kind_bits = offset_mask | oflag_zero | oflag_compressed | (g.data_file ? oflag_copied : 0);
        uint64_t expect = table.raw(l2_index) & kind_bits;
        uint64_t step = host ? g.cluster_size : 0;
        for (uint64_t index = l2_index + 1; index < g.l2_entries && length < max_length; ++index) {
            expect += step;
            if ((table.raw(index) & kind_bits) != expect)
                break;
            length += g.cluster_size;
        }
    } else if (first != SubclusterKind::compressed) {
        uint64_t index = l2_index;
        uint32_t next_sc = sc + 1;
        uint64_t expected_host = host ? *host + length : 0;
        // Walks forward one subcluster at a time; ends at the table end.
        while (length < max_length) {
            if (next_sc == g.subclusters) {
                next_sc = 0;
                if (++index == g.l2_entries)
                    break;
            }
            SubclusterKind k = subcluster_kind(g, table[index], next_sc);
            if (k != first)
                break;
            if (host) {
                uint64_t h = table[index].host_offset() + uint64_t{next_sc} * g.subcluster_size;
                if (h != expected_host || table[index].host_offset() % g.cluster_size != 0)
                    break;
                expected_host += g.subcluster_size;
            }
            length += g.subcluster_size;
            ++next_sc;
        }
    } else {
        length = g.cluster_size - offset % g.cluster_size;
    }
    return RangeStatus{std::min(length, max_length), kind_of(first), host};
}

Result<void> Image::read_allocated(uint64_t offset, const RangeStatus& status, std::span<uint8_t> out)
{
    if (header_.crypt_method != CryptMethod::none)
        return fail(Errc::unsupported_feature, "reading guest data of an encrypted image is not supported");
    switch (status.kind) {
    case RangeKind::zero:
        std::fill(out.begin(), out.end(), 0);
        return {};
    case RangeKind::data:
        if (needs_data_file() && !has_data_file())
            return fail(Errc::not_found, "external data file '{}' is not open", *extensions_.data_file);
        return data_file().read_zero_padded(*status.host_offset, out);
    case RangeKind::unallocated:
        return fail(Errc::invalid_argument, "read_allocated on an unallocated range at {:#x}", offset);
    case RangeKind::compressed:
        break;
    }
    const Geometry& g = geometry_;
    uint64_t l2_offset = l1_entry(offset / g.bytes_per_l2()) & offset_mask;
    const L2Table& table = *TRY(l2_table(l2_offset));
    uint64_t raw = table[offset / g.cluster_size % g.l2_entries].raw;
    if (raw != cached_compressed_raw_ || cached_compressed_.empty()) {
        CompressedDescriptor d = compressed_descriptor(g, raw);
        // Bounded: at most one cluster's worth of sectors plus one.
        std::vector<uint8_t> packed(d.length);
        TRY(file_->read_zero_padded(d.offset, packed));
        cached_compressed_.assign(g.cluster_size, 0);
        auto ok = decompress_cluster(header_.compression_type, packed, cached_compressed_);
        if (!ok) {
            cached_compressed_.clear();
            return util::Unexpected{util::Error{
                Errc::corrupt_metadata,
                fmt::format("compressed cluster at host offset {:#x} (guest {:#x}): {}", d.offset,
                            util::align_down(offset, g.cluster_size), ok.error().message),
                d.offset}};
        }
        cached_compressed_raw_ = raw;
    }
    uint64_t in_cluster = offset % g.cluster_size;
    std::copy_n(cached_compressed_.begin() + static_cast<ptrdiff_t>(in_cluster), out.size(), out.begin());
    return {};
}

} // namespace imgmend::qcow2
