#include "fixtures/doctest_printers.hpp"
#include "qcow2/compressed.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>
#include <zlib.h>
#include <zstd.h>

using namespace imgmend;
using qcow2::CompressionType;
using util::Errc;

namespace {

// Compressible: runs of bytes with some structure.
std::vector<uint8_t> pattern(size_t n, uint32_t seed = 1)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>((i / 64 + seed) * 31 + (i % 7 == 0 ? i / 512 : 0));
    return v;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v)
        b = static_cast<uint8_t>(rng());
    return v;
}

// Raw deflate with a 4 KiB window, written the way qemu writes clusters,
// independently of compress_cluster.
std::vector<uint8_t> qemu_deflate(const std::vector<uint8_t>& in)
{
    z_stream s{};
    REQUIRE(deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    std::vector<uint8_t> out(deflateBound(&s, in.size()));
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
    out.resize(out.size() - s.avail_out);
    deflateEnd(&s);
    return out;
}

std::vector<uint8_t> zstd_frame(const std::vector<uint8_t>& in)
{
    std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
    size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

std::vector<uint8_t> decompress(CompressionType type, const std::vector<uint8_t>& in, size_t out_size,
                                Errc* error = nullptr)
{
    std::vector<uint8_t> out(out_size, 0xee);
    auto r = qcow2::decompress_cluster(type, in, out);
    if (!r) {
        if (error)
            *error = r.error().code;
        return {};
    }
    return out;
}

} // namespace

TEST_CASE("compress_cluster and decompress_cluster round-trip for every cluster size")
{
    for (CompressionType type : {CompressionType::zlib, CompressionType::zstd}) {
        for (uint32_t cb = 9; cb <= 21; ++cb) {
            CAPTURE(static_cast<int>(type));
            CAPTURE(cb);
            auto plain = pattern(size_t{1} << cb, cb);
            auto packed = qcow2::compress_cluster(type, plain);
            REQUIRE(packed);
            REQUIRE_FALSE(packed->empty());
            CHECK(packed->size() < plain.size());
            CHECK(decompress(type, *packed, plain.size()) == plain);
        }
    }
}

TEST_CASE("compress_cluster gives up on incompressible data")
{
    auto noise = random_bytes(65536, 7);
    for (CompressionType type : {CompressionType::zlib, CompressionType::zstd}) {
        CAPTURE(static_cast<int>(type));
        auto packed = qcow2::compress_cluster(type, noise);
        REQUIRE(packed);
        CHECK(packed->empty());
    }
}

TEST_CASE("compress_cluster output is what qemu reads: raw deflate and plain zstd frames")
{
    auto plain = pattern(65536);
    auto z = qcow2::compress_cluster(CompressionType::zlib, plain);
    REQUIRE(z);
    {
        // Inflate independently with the qcow2 parameters (raw, 4 KiB window).
        z_stream s{};
        REQUIRE(inflateInit2(&s, -12) == Z_OK);
        std::vector<uint8_t> out(plain.size());
        s.next_in = z->data();
        s.avail_in = static_cast<uInt>(z->size());
        s.next_out = out.data();
        s.avail_out = static_cast<uInt>(out.size());
        CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END);
        inflateEnd(&s);
        CHECK(out == plain);
    }
    auto zs = qcow2::compress_cluster(CompressionType::zstd, plain);
    REQUIRE(zs);
    std::vector<uint8_t> out(plain.size());
    CHECK(ZSTD_decompress(out.data(), out.size(), zs->data(), zs->size()) == plain.size());
    CHECK(out == plain);
}

TEST_CASE("decompress_cluster reads streams written by another implementation")
{
    auto plain = pattern(65536, 3);
    CHECK(decompress(CompressionType::zlib, qemu_deflate(plain), plain.size()) == plain);
    CHECK(decompress(CompressionType::zstd, zstd_frame(plain), plain.size()) == plain);
}

TEST_CASE("decompress_cluster ignores bytes after the stream (sector padding)")
{
    auto plain = pattern(4096, 5);
    auto z = qemu_deflate(plain);
    z.resize((z.size() + 511) / 512 * 512 + 512, 0xff);
    CHECK(decompress(CompressionType::zlib, z, plain.size()) == plain);

    auto zs = zstd_frame(plain);
    zs.resize((zs.size() + 511) / 512 * 512 + 512, 0xff);
    CHECK(decompress(CompressionType::zstd, zs, plain.size()) == plain);
}

TEST_CASE("decompress_cluster refuses garbage")
{
    for (CompressionType type : {CompressionType::zlib, CompressionType::zstd}) {
        CAPTURE(static_cast<int>(type));
        for (uint32_t seed = 0; seed < 16; ++seed) {
            CAPTURE(seed);
            Errc code = Errc::io;
            auto out = decompress(type, random_bytes(1024, seed), 4096, &code);
            CHECK(out.empty());
            CHECK(code == Errc::corrupt_metadata);
        }
        Errc code = Errc::io;
        CHECK(decompress(type, std::vector<uint8_t>(600, 0xff), 4096, &code).empty());
        CHECK(code == Errc::corrupt_metadata);
        code = Errc::io;
        CHECK(decompress(type, {}, 4096, &code).empty());
        CHECK(code == Errc::corrupt_metadata);
    }
}

TEST_CASE("decompress_cluster refuses a stream cut short")
{
    auto plain = pattern(65536, 9);
    for (CompressionType type : {CompressionType::zlib, CompressionType::zstd}) {
        CAPTURE(static_cast<int>(type));
        auto packed = *qcow2::compress_cluster(type, plain);
        // (The last bytes of a deflate stream may hold only its end code, so
        // a cut there can still yield the whole cluster, as in qemu.)
        for (size_t len : {size_t{1}, packed.size() / 4, packed.size() / 2, packed.size() * 3 / 4}) {
            CAPTURE(len);
            std::vector<uint8_t> cut(packed.begin(), packed.begin() + static_cast<ptrdiff_t>(len));
            Errc code = Errc::io;
            CHECK(decompress(type, cut, plain.size(), &code).empty());
            CHECK(code == Errc::corrupt_metadata);
        }
    }
}

TEST_CASE("decompress_cluster refuses a stream shorter than the cluster")
{
    auto half = pattern(32768, 11);
    Errc code = Errc::io;
    CHECK(decompress(CompressionType::zlib, qemu_deflate(half), 65536, &code).empty());
    CHECK(code == Errc::corrupt_metadata);
    code = Errc::io;
    CHECK(decompress(CompressionType::zstd, zstd_frame(half), 65536, &code).empty());
    CHECK(code == Errc::corrupt_metadata);
}

TEST_CASE("decompress_cluster: a deflate stream longer than the cluster yields its first cluster, as in qemu")
{
    // qemu accepts Z_BUF_ERROR with a full output buffer.
    auto two = pattern(8192, 13);
    auto out = decompress(CompressionType::zlib, qemu_deflate(two), 4096);
    REQUIRE(out.size() == 4096);
    CHECK(std::equal(out.begin(), out.end(), two.begin()));
}

TEST_CASE("decompress_cluster: a zstd frame longer than the cluster is an error, as in qemu")
{
    // qemu's qcow2_zstd_decompress fails when the frame is not finished once
    // the cluster is full: the data is damaged.
    auto two = pattern(8192, 13);
    Errc code = Errc::io;
    CHECK(decompress(CompressionType::zstd, zstd_frame(two), 4096, &code).empty());
    CHECK(code == Errc::corrupt_metadata);
}

TEST_CASE("decompress_cluster: a zstd cluster may consist of several frames")
{
    // qemu iterates over frames until the cluster is full.
    auto plain = pattern(65536, 17);
    std::vector<uint8_t> first(plain.begin(), plain.begin() + 20000), second(plain.begin() + 20000, plain.end());
    auto a = zstd_frame(first), b = zstd_frame(second);
    std::vector<uint8_t> both = a;
    both.insert(both.end(), b.begin(), b.end());
    CHECK(decompress(CompressionType::zstd, both, plain.size()) == plain);
}
