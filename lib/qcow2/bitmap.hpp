// Persistent dirty bitmaps (../shared/ref/qcow2-spec.txt, "Bitmaps").
// Bitmap directory entry, padded to 8 bytes:
//   offset  size  field
//    0       8    bitmap_table_offset
//    8       4    bitmap_table_size (entries)
//   12       4    flags: bit 0 in_use, bit 1 auto, bit 2 extra_data_compatible
//   16       1    type (1 = dirty tracking)
//   17       1    granularity_bits
//   18       2    name_size
//   20       4    extra_data_size
//   24       n    extra data, then name (not terminated), then padding
// Bitmap table entry (64 bits): bits 9-55 offset of a data cluster; with
// offset 0, bit 0 says whether the cluster reads as all ones.
#pragma once

#include "io/block_device.hpp"
#include "qcow2/extensions.hpp"

#include <string>
#include <vector>

namespace imgmend::qcow2 {

inline constexpr uint32_t bitmap_flag_in_use = 1u << 0;
inline constexpr uint32_t bitmap_flag_auto = 1u << 1;
inline constexpr uint32_t bitmap_flag_extra_compatible = 1u << 2;
inline constexpr uint64_t bitmap_entry_offset_mask = 0x00fffffffffffe00ull;
inline constexpr uint64_t bitmap_entry_all_ones = 1;

struct BitmapEntry {
    uint64_t entry_offset = 0;
    uint64_t table_offset = 0;
    uint32_t table_size = 0;
    uint32_t flags = 0;
    uint8_t type = 0;
    uint8_t granularity_bits = 0;
    uint32_t extra_data_size = 0;
    std::string name;
};

// Reads the bitmap directory named by the bitmaps extension.
io::Result<std::vector<BitmapEntry>> read_bitmap_directory(io::BlockDevice& dev, const BitmapsExtension& ext);

// Reads one bitmap's table (bounded by the file size).
io::Result<std::vector<uint64_t>> read_bitmap_table(io::BlockDevice& dev, const BitmapEntry& entry);

} // namespace imgmend::qcow2
