// Compressed cluster payloads: raw deflate (zlib, window bits 12, no header)
// or zstd frames, each decompressing to exactly one cluster.
#pragma once

#include "qcow2/header.hpp"

#include <span>
#include <vector>

namespace imgmend::qcow2 {

// Decompresses `in` into `out` (one cluster). Trailing bytes after the
// stream are ignored (the descriptor rounds to whole sectors); a stream that
// does not fill `out` exactly is an error.
Result<void> decompress_cluster(CompressionType type, std::span<const uint8_t> in, std::span<uint8_t> out);

// Compresses one cluster. Returns an empty vector when the result would not
// be smaller than the input (the caller then writes it uncompressed).
Result<std::vector<uint8_t>> compress_cluster(CompressionType type, std::span<const uint8_t> in);

} // namespace imgmend::qcow2
