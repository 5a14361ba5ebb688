// Documented caps on image-controlled sizes. qemu refuses images beyond
// these, so bounding by them never rejects an image qemu accepts, and no
// allocation sized by an image field can exceed them.
#pragma once

#include <cstdint>

namespace imgmend::qcow2 {

inline constexpr uint32_t min_cluster_bits = 9;
inline constexpr uint32_t max_cluster_bits = 21;
inline constexpr uint32_t min_extended_l2_cluster_bits = 14; // subclusters of >= 512 bytes
inline constexpr uint32_t max_refcount_order = 6;
inline constexpr uint64_t max_l1_bytes = 32ull << 20;             // qemu QCOW_MAX_L1_SIZE
inline constexpr uint64_t max_refcount_table_bytes = 8ull << 20;  // qemu QCOW_MAX_REFTABLE_SIZE
inline constexpr uint32_t max_snapshots = 65536;                  // qemu QCOW_MAX_SNAPSHOTS
inline constexpr uint64_t max_snapshot_extra = 1024;              // qemu QCOW_MAX_SNAPSHOT_EXTRA_DATA
inline constexpr uint64_t max_snapshot_table_bytes = 64ull << 20; // qemu QCOW_MAX_SNAPSHOTS_SIZE
inline constexpr uint32_t max_bitmaps = 65535;
inline constexpr uint64_t max_bitmap_directory_bytes = 64ull << 20;
inline constexpr uint32_t max_backing_name = 1023;
inline constexpr uint64_t max_virtual_size = 1ull << 62;
inline constexpr int max_chain_depth = 64;

} // namespace imgmend::qcow2
