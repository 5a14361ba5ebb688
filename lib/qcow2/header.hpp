// The qcow2 image header (../shared/ref/qcow2-spec.txt, "Header").
//
//   offset  size  field
//    0       4    magic "QFI\xfb"
//    4       4    version (2 or 3)
//    8       8    backing_file_offset
//   16       4    backing_file_size (at most 1023)
//   20       4    cluster_bits (9..21)
//   24       8    size (virtual disk size in bytes)
//   32       4    crypt_method (0 none, 1 AES, 2 LUKS)
//   36       4    l1_size (entries)
//   40       8    l1_table_offset
//   48       8    refcount_table_offset
//   56       4    refcount_table_clusters
//   60       4    nb_snapshots
//   64       8    snapshots_offset
//  version 3 only (version 2 implies the defaults in brackets):
//   72       8    incompatible_features [0]
//   80       8    compatible_features [0]
//   88       8    autoclear_features [0]
//   96       4    refcount_order [4]
//  100       4    header_length [72]
//  104       1    compression_type, when header_length > 104 [0 zlib]
//  105       3    padding to a multiple of 8
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <span>

namespace imgmend::qcow2 {

using util::Result;

inline constexpr uint32_t magic = 0x514649fb; // "QFI\xfb"
inline constexpr uint64_t v2_header_length = 72;
inline constexpr uint64_t v3_header_length = 104;

// Incompatible feature bits.
inline constexpr uint64_t incompat_dirty = 1ull << 0;
inline constexpr uint64_t incompat_corrupt = 1ull << 1;
inline constexpr uint64_t incompat_data_file = 1ull << 2;
inline constexpr uint64_t incompat_compression = 1ull << 3;
inline constexpr uint64_t incompat_extended_l2 = 1ull << 4;
inline constexpr uint64_t incompat_known = 0x1f;
// Compatible feature bits.
inline constexpr uint64_t compat_lazy_refcounts = 1ull << 0;
// Autoclear feature bits.
inline constexpr uint64_t autoclear_bitmaps = 1ull << 0;
inline constexpr uint64_t autoclear_data_file_raw = 1ull << 1;
inline constexpr uint64_t autoclear_known = 0x3;

enum class CompressionType : uint8_t { zlib = 0, zstd = 1 };
enum class CryptMethod : uint32_t { none = 0, aes = 1, luks = 2 };

struct Header {
    uint32_t version = 3;
    uint64_t backing_file_offset = 0;
    uint32_t backing_file_size = 0;
    uint32_t cluster_bits = 16;
    uint64_t size = 0;
    CryptMethod crypt_method = CryptMethod::none;
    uint32_t l1_size = 0;
    uint64_t l1_table_offset = 0;
    uint64_t refcount_table_offset = 0;
    uint32_t refcount_table_clusters = 0;
    uint32_t nb_snapshots = 0;
    uint64_t snapshots_offset = 0;
    uint64_t incompatible_features = 0;
    uint64_t compatible_features = 0;
    uint64_t autoclear_features = 0;
    uint32_t refcount_order = 4;
    uint32_t header_length = v2_header_length;
    CompressionType compression_type = CompressionType::zlib;

    uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
    bool extended_l2() const { return incompatible_features & incompat_extended_l2; }
    bool has_data_file() const { return incompatible_features & incompat_data_file; }
};

// Parses and validates the fixed header fields (not the extensions, not the
// tables). `file_size` bounds nothing here that qemu would accept; the
// table loaders bound their own sizes.
Result<Header> parse_header(std::span<const uint8_t> bytes);

// Serialises the fixed fields (header_length bytes) into `out`.
void serialize_header(const Header& header, std::span<uint8_t> out);

} // namespace imgmend::qcow2
