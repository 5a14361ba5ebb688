// L1 and L2 table entries (../shared/ref/qcow2-spec.txt, "Cluster mapping").
//
// L1 entry (64 bits):
//   bits 0-8    reserved, zero
//   bits 9-55   offset of the L2 table (cluster aligned); 0 = unallocated
//   bits 56-62  reserved, zero
//   bit 63      COPIED: refcount is exactly 1
//
// Standard L2 entry (64 bits):
//   bits 0-61   cluster descriptor
//   bit 62      0 standard cluster, 1 compressed cluster
//   bit 63      COPIED (standard clusters only)
// Standard cluster descriptor:
//   bit 0       all zeros (version 3; reserved with extended L2)
//   bits 1-8    reserved, zero
//   bits 9-55   host cluster offset; 0 = unallocated (or plain zero)
//   bits 56-61  reserved, zero
// Compressed cluster descriptor, x = 62 - (cluster_bits - 8):
//   bits 0..x-1 host offset of the compressed data (any byte)
//   bits x..61  additional 512-byte sectors beyond the first
//
// Extended L2 entries add a 64-bit subcluster bitmap: bits 0-31 "allocated"
// and bits 32-63 "reads as zeros", one bit per subcluster.
#pragma once

#include "qcow2/geometry.hpp"

namespace imgmend::qcow2 {

inline constexpr uint64_t oflag_copied = 1ull << 63;
inline constexpr uint64_t oflag_compressed = 1ull << 62;
inline constexpr uint64_t oflag_zero = 1ull << 0;
inline constexpr uint64_t offset_mask = 0x00fffffffffffe00ull;
inline constexpr uint64_t l1_reserved_mask = 0x7f000000000001ffull;
inline constexpr uint64_t l2_reserved_mask = 0x3f000000000001feull;

struct L2Entry {
    uint64_t raw = 0;
    uint64_t bitmap = 0; // extended L2 only

    bool compressed() const { return raw & oflag_compressed; }
    bool copied() const { return raw & oflag_copied; }
    uint64_t host_offset() const { return raw & offset_mask; }
};

// What one subcluster (or whole cluster without extended L2) holds.
enum class SubclusterKind {
    unallocated_plain, // read from the backing file
    unallocated_alloc, // host cluster allocated, this subcluster not: backing
    zero_plain,        // reads as zeros, no host cluster
    zero_alloc,        // reads as zeros, host cluster preallocated
    normal,            // data at host_offset
    compressed,        // compressed data, see CompressedDescriptor
    invalid,           // bitmap contradicts itself; reads fail
};

SubclusterKind subcluster_kind(const Geometry& g, L2Entry entry, uint32_t subcluster);

struct CompressedDescriptor {
    uint64_t offset;  // host byte offset of the compressed stream
    uint64_t length;  // bytes from offset to the end of the last sector
};

CompressedDescriptor compressed_descriptor(const Geometry& g, uint64_t raw);

inline bool reads_from_backing(SubclusterKind k)
{
    return k == SubclusterKind::unallocated_plain || k == SubclusterKind::unallocated_alloc;
}
inline bool reads_as_zero(SubclusterKind k)
{
    return k == SubclusterKind::zero_plain || k == SubclusterKind::zero_alloc;
}

} // namespace imgmend::qcow2
