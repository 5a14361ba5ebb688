// qcow2 header extensions (../shared/ref/qcow2-spec.txt, "Header extensions").
//
// Each extension, starting right after the fixed header, 8-byte aligned:
//   offset  size  field
//    0       4    type (0 ends the list)
//    4       4    length of the data
//    8       n    data, padded with zeros to a multiple of 8
//
// Known types:
//   0xe2792aca  backing file format name (string)
//   0x6803f857  feature name table: 48-byte entries
//               (0 type: 0 incompatible, 1 compatible, 2 autoclear;
//                1 bit number; 2..47 name, zero padded)
//   0x23852875  bitmaps: 0 nb_bitmaps (4), 4 reserved (4, zero),
//               8 bitmap_directory_size (8), 16 bitmap_directory_offset (8)
//   0x0537be77  full disk encryption header: 0 offset (8), 8 length (8)
//   0x44415441  external data file name (string)
// Unknown extensions are kept verbatim so a header rewrite preserves them.
#pragma once

#include "qcow2/header.hpp"

#include <optional>
#include <string>
#include <vector>

namespace imgmend::qcow2 {

inline constexpr uint32_t ext_end = 0;
inline constexpr uint32_t ext_backing_format = 0xe2792aca;
inline constexpr uint32_t ext_feature_names = 0x6803f857;
inline constexpr uint32_t ext_bitmaps = 0x23852875;
inline constexpr uint32_t ext_encryption = 0x0537be77;
inline constexpr uint32_t ext_data_file = 0x44415441;

enum class FeatureType : uint8_t { incompatible = 0, compatible = 1, autoclear = 2 };

struct FeatureName {
    FeatureType type;
    uint8_t bit;
    std::string name;
};

struct BitmapsExtension {
    uint32_t nb_bitmaps = 0;
    uint64_t directory_size = 0;
    uint64_t directory_offset = 0;
};

struct EncryptionExtension {
    uint64_t offset = 0;
    uint64_t length = 0;
};

struct RawExtension {
    uint32_t type;
    std::vector<uint8_t> data;
};

struct Extensions {
    std::optional<std::string> backing_format;
    std::vector<FeatureName> feature_names;
    std::optional<BitmapsExtension> bitmaps;
    std::optional<EncryptionExtension> encryption;
    std::optional<std::string> data_file;
    std::vector<RawExtension> unknown;
    // Every extension in file order, known ones included, for rewriting.
    std::vector<RawExtension> all;
};

// Parses the extensions in the header cluster. `cluster` holds the first
// cluster of the image (or the whole file if it is shorter).
Result<Extensions> parse_extensions(const Header& header, std::span<const uint8_t> cluster);

// The name of a feature bit from the image's own table, or a generic one.
std::string feature_name(const Extensions& ext, FeatureType type, unsigned bit);

} // namespace imgmend::qcow2
