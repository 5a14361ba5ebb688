#include "qcow2/compressed.hpp"

#include <vector>
#include <zlib.h>
#include <zstd.h>

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

namespace {

constexpr int deflate_window_bits = -12; // raw deflate, 4 KiB window, as qcow2 writes it

Result<void> inflate_raw(std::span<const uint8_t> in, std::span<uint8_t> out)
{
    z_stream s{};
    if (inflateInit2(&s, deflate_window_bits) != Z_OK)
        return fail(Errc::io, "zlib: inflateInit2 failed");
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    int ret = inflate(&s, Z_FINISH);
    bool filled = s.avail_out == 0;
    inflateEnd(&s);
    // Z_BUF_ERROR with a full output means the stream continued past one
    // cluster's worth of input padding: the cluster itself is complete.
    if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && filled)
        return {};
    return fail(Errc::corrupt_metadata, "compressed cluster does not inflate to a full cluster (zlib {})", ret);
}

Result<void> zstd_decompress(std::span<const uint8_t> in, std::span<uint8_t> out)
{
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    if (!ctx)
        return fail(Errc::io, "zstd: cannot create a context");
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    ZSTD_outBuffer output{out.data(), out.size(), 0};
    size_t ret = 0;
    bool stuck = false;
    // As qemu: decompress (across frames) until the cluster is full; a call
    // that makes no progress ends it, so the loop ends.
    while (output.pos < output.size) {
        size_t before_in = input.pos, before_out = output.pos;
        ret = ZSTD_decompressStream(ctx, &output, &input);
        if (ZSTD_isError(ret))
            break;
        if (input.pos <= before_in && output.pos <= before_out) {
            stuck = true;
            break;
        }
    }
    ZSTD_freeDCtx(ctx);
    if (ZSTD_isError(ret))
        return fail(Errc::corrupt_metadata, "compressed cluster does not decompress (zstd: {})",
                    ZSTD_getErrorName(ret));
    if (stuck || output.pos != output.size)
        return fail(Errc::corrupt_metadata, "compressed cluster decompresses to {} bytes, not {}", output.pos,
                    output.size);
    if (ret > 0) // the frame goes on past the cluster
        return fail(Errc::corrupt_metadata, "compressed cluster: zstd frame longer than the cluster");
    return {};
}

} // namespace

Result<void> decompress_cluster(CompressionType type, std::span<const uint8_t> in, std::span<uint8_t> out)
{
    if (type == CompressionType::zstd)
        return zstd_decompress(in, out);
    return inflate_raw(in, out);
}

Result<std::vector<uint8_t>> compress_cluster(CompressionType type, std::span<const uint8_t> in)
{
    std::vector<uint8_t> out(in.size());
    if (type == CompressionType::zstd) {
        size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), ZSTD_CLEVEL_DEFAULT);
        if (ZSTD_isError(n))
            return std::vector<uint8_t>{}; // does not fit in a cluster: store uncompressed
        out.resize(n);
        return out;
    }
    z_stream s{};
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, deflate_window_bits, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return fail(Errc::io, "zlib: deflateInit2 failed");
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    int ret = deflate(&s, Z_FINISH);
    size_t produced = out.size() - s.avail_out;
    deflateEnd(&s);
    if (ret != Z_STREAM_END)
        return std::vector<uint8_t>{};
    out.resize(produced);
    return out;
}

} // namespace imgmend::qcow2
