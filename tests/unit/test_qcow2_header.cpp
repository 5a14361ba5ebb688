#include "fixtures/doctest_printers.hpp"
#include "fixtures/header_fields.hpp"
#include "qcow2/header.hpp"
#include "qcow2/limits.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <vector>

using namespace imgmend;
using qcow2::Header;
using util::Errc;

namespace {

// A valid version 3 header: 64 KiB clusters, 1 GiB, two L1 entries.
Header base_v3()
{
    Header h;
    h.version = 3;
    h.cluster_bits = 16;
    h.size = 1ull << 30;
    h.l1_size = 2; // one L2 table maps 8192 * 64 KiB = 512 MiB
    h.l1_table_offset = 0x30000;
    h.refcount_table_offset = 0x10000;
    h.refcount_table_clusters = 1;
    h.refcount_order = 4;
    h.header_length = 112;
    return h;
}

Header base_v2()
{
    Header h = base_v3();
    h.version = 2;
    h.header_length = 72;
    return h;
}

std::vector<uint8_t> serialize(const Header& h, size_t size = 512)
{
    std::vector<uint8_t> out(std::max<size_t>(size, h.header_length), 0);
    qcow2::serialize_header(h, out);
    return out;
}

void check_same(const Header& a, const Header& b)
{
    test::check_same_header(a, b, test::BackingFields::compared);
}

struct BadHeader {
    const char* name;
    std::function<void(Header&)> edit;
    Errc expected;
    std::function<void(std::vector<uint8_t>&)> poke = {};
};

} // namespace

TEST_CASE("parse_header reads every version 3 field from its offset")
{
    // Written by hand from the specification's offset table, not by serialize_header.
    std::vector<uint8_t> b(112, 0);
    util::store_be32(b, 0, 0x514649fb);
    util::store_be32(b, 4, 3);
    util::store_be64(b, 8, 0x200);           // backing_file_offset
    util::store_be32(b, 16, 10);             // backing_file_size
    util::store_be32(b, 20, 12);             // cluster_bits
    util::store_be64(b, 24, 0x40000000);     // size
    util::store_be32(b, 32, 0);              // crypt_method
    util::store_be32(b, 36, 512);            // l1_size: 512 * 512 * 4 KiB = 1 GiB
    util::store_be64(b, 40, 0x3000);         // l1_table_offset
    util::store_be64(b, 48, 0x1000);         // refcount_table_offset
    util::store_be32(b, 56, 2);              // refcount_table_clusters
    util::store_be32(b, 60, 3);              // nb_snapshots
    util::store_be64(b, 64, 0x9000);         // snapshots_offset
    util::store_be64(b, 72, 0x1 | 0x8);      // incompatible: dirty, compression
    util::store_be64(b, 80, 0x1);            // compatible: lazy refcounts
    util::store_be64(b, 88, 0x2);            // autoclear: raw data file
    util::store_be32(b, 96, 5);              // refcount_order
    util::store_be32(b, 100, 112);           // header_length
    b[104] = 1;                              // zstd

    auto h = qcow2::parse_header(b);
    REQUIRE(h);
    CHECK(h->version == 3);
    CHECK(h->backing_file_offset == 0x200);
    CHECK(h->backing_file_size == 10);
    CHECK(h->cluster_bits == 12);
    CHECK(h->cluster_size() == 4096);
    CHECK(h->size == 0x40000000);
    CHECK(h->crypt_method == qcow2::CryptMethod::none);
    CHECK(h->l1_size == 512);
    CHECK(h->l1_table_offset == 0x3000);
    CHECK(h->refcount_table_offset == 0x1000);
    CHECK(h->refcount_table_clusters == 2);
    CHECK(h->nb_snapshots == 3);
    CHECK(h->snapshots_offset == 0x9000);
    CHECK(h->incompatible_features == 0x9);
    CHECK(h->compatible_features == 1);
    CHECK(h->autoclear_features == 2);
    CHECK(h->refcount_order == 5);
    CHECK(h->header_length == 112);
    CHECK(h->compression_type == qcow2::CompressionType::zstd);
    CHECK_FALSE(h->extended_l2());
    CHECK_FALSE(h->has_data_file());
}

TEST_CASE("parse_header gives version 2 the implied version 3 defaults")
{
    auto bytes = serialize(base_v2(), 112);
    // Whatever follows a version 2 header is not header fields.
    std::fill(bytes.begin() + 72, bytes.end(), 0xff);
    auto h = qcow2::parse_header(bytes);
    REQUIRE(h);
    CHECK(h->version == 2);
    CHECK(h->incompatible_features == 0);
    CHECK(h->compatible_features == 0);
    CHECK(h->autoclear_features == 0);
    CHECK(h->refcount_order == 4);
    CHECK(h->header_length == 72);
    CHECK(h->compression_type == qcow2::CompressionType::zlib);
    // 72 bytes are enough for version 2.
    CHECK(qcow2::parse_header(std::span<const uint8_t>(bytes).first(72)));
}

TEST_CASE("parse_header: the compression type is read only when header_length covers it")
{
    Header h = base_v3();
    h.header_length = 104;
    auto bytes = serialize(h);
    bytes[104] = 1; // beyond header_length: not a header field
    auto parsed = qcow2::parse_header(bytes);
    REQUIRE(parsed);
    CHECK(parsed->compression_type == qcow2::CompressionType::zlib);
    // 104 bytes are enough when header_length is 104.
    CHECK(qcow2::parse_header(std::span<const uint8_t>(bytes).first(104)));
}

TEST_CASE("parse_header refuses malformed headers with a specific error")
{
    const uint64_t cs = 65536;
    const BadHeader rows[] = {
        {"bad magic", [](Header&) {}, Errc::bad_magic, [](std::vector<uint8_t>& b) { b[3] = 0xfa; }},
        {"zero magic", [](Header&) {}, Errc::bad_magic, [](std::vector<uint8_t>& b) { std::fill_n(b.begin(), 4, 0); }},
        {"version 0", [](Header& h) { h.version = 0; }, Errc::unsupported_feature},
        {"version 1", [](Header& h) { h.version = 1; }, Errc::unsupported_feature},
        {"version 4", [](Header& h) { h.version = 4; }, Errc::unsupported_feature},
        {"cluster_bits 8", [](Header& h) { h.cluster_bits = 8; h.l1_size = 1 << 20; }, Errc::corrupt_metadata},
        {"cluster_bits 0", [](Header& h) { h.cluster_bits = 0; }, Errc::corrupt_metadata},
        // Valid by the specification but beyond qemu's 2 MiB cap (limits.hpp).
        {"cluster_bits 22", [](Header& h) { h.cluster_bits = 22; }, Errc::out_of_range},
        {"refcount_order 7", [](Header& h) { h.refcount_order = 7; }, Errc::corrupt_metadata},
        {"refcount_order 32", [](Header& h) { h.refcount_order = 32; }, Errc::corrupt_metadata},
        {"header_length 100 (< 104)", [](Header& h) { h.header_length = 100; }, Errc::corrupt_metadata},
        {"header_length 72 in version 3", [](Header& h) { h.header_length = 72; }, Errc::corrupt_metadata},
        {"header_length beyond the cluster", [cs](Header& h) { h.header_length = static_cast<uint32_t>(cs + 8); },
         Errc::corrupt_metadata},
        {"header_length 2^32 - 8", [](Header&) {}, Errc::corrupt_metadata,
         [](std::vector<uint8_t>& b) { util::store_be32(b, 100, 0xfffffff8u); }},
        {"crypt_method 3", [](Header& h) { h.crypt_method = static_cast<qcow2::CryptMethod>(3); },
         Errc::unsupported_feature},
        {"unknown compression type 2",
         [](Header& h) {
             h.compression_type = static_cast<qcow2::CompressionType>(2);
             h.incompatible_features |= qcow2::incompat_compression;
         },
         Errc::unsupported_feature},
        {"zstd without the compression bit", [](Header& h) { h.compression_type = qcow2::CompressionType::zstd; },
         Errc::corrupt_metadata},
        {"compression bit with type 0 (deflate)",
         [](Header& h) { h.incompatible_features |= qcow2::incompat_compression; }, Errc::corrupt_metadata},
        {"compression bit without the field (header_length 104)",
         [](Header& h) {
             h.header_length = 104;
             h.incompatible_features |= qcow2::incompat_compression;
         },
         Errc::corrupt_metadata},
        {"extended L2 with 8 KiB clusters",
         [](Header& h) {
             h.cluster_bits = 13;
             h.incompatible_features |= qcow2::incompat_extended_l2;
             h.l1_size = 4096;
         },
         Errc::corrupt_metadata},
        {"L1 too small for the size", [](Header& h) { h.l1_size = 1; }, Errc::corrupt_metadata},
        {"L1 empty for a non-empty disk", [](Header& h) { h.l1_size = 0; }, Errc::corrupt_metadata},
        {"L1 too small by one byte of size", [](Header& h) { h.size = (1ull << 30) + 1; }, Errc::corrupt_metadata},
        {"L1 above 32 MiB", [](Header& h) { h.l1_size = (32u << 20) / 8 + 1; }, Errc::out_of_range},
        {"L1 size 2^32 - 1", [](Header& h) { h.l1_size = 0xffffffffu; }, Errc::out_of_range},
        {"refcount table above 8 MiB", [](Header& h) { h.refcount_table_clusters = (8u << 20) / 65536 + 1; },
         Errc::out_of_range},
        {"refcount table 2^32 - 1 clusters", [](Header& h) { h.refcount_table_clusters = 0xffffffffu; },
         Errc::out_of_range},
        {"unaligned L1 table", [](Header& h) { h.l1_table_offset = 0x30200; }, Errc::corrupt_metadata},
        {"unaligned refcount table", [](Header& h) { h.refcount_table_offset = 0x10008; }, Errc::corrupt_metadata},
        {"unaligned snapshot table",
         [](Header& h) {
             h.nb_snapshots = 1;
             h.snapshots_offset = 0x50001;
         },
         Errc::corrupt_metadata},
        {"backing name of 1024 bytes",
         [](Header& h) {
             h.backing_file_offset = 0x200;
             h.backing_file_size = 1024;
         },
         Errc::corrupt_metadata},
        {"backing name running past the header cluster",
         [cs](Header& h) {
             h.backing_file_offset = cs - 10;
             h.backing_file_size = 11;
         },
         Errc::corrupt_metadata},
        {"backing name offset beyond the cluster",
         [](Header& h) {
             h.backing_file_offset = 0x20000;
             h.backing_file_size = 4;
         },
         Errc::corrupt_metadata},
        {"backing name offset near 2^64",
         [](Header& h) {
             h.backing_file_offset = ~uint64_t{0} - 2;
             h.backing_file_size = 8;
         },
         Errc::corrupt_metadata},
        {"size beyond 2^62", [](Header& h) { h.size = (1ull << 62) + 1; }, Errc::out_of_range},
        {"size 2^64 - 1", [](Header& h) { h.size = ~uint64_t{0}; }, Errc::out_of_range},
    };
    for (const BadHeader& row : rows) {
        INFO(std::string(row.name));
        Header h = base_v3();
        row.edit(h);
        auto bytes = serialize(h);
        if (row.poke)
            row.poke(bytes);
        auto parsed = qcow2::parse_header(bytes);
        REQUIRE_FALSE(parsed);
        CHECK(parsed.error().code == row.expected);
        CHECK_FALSE(parsed.error().message.empty());
    }
}

TEST_CASE("parse_header error messages name the field")
{
    Header h = base_v3();
    h.l1_table_offset = 0x30200;
    auto e = qcow2::parse_header(serialize(h));
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("0x30200") != std::string::npos);
    CHECK(e.error().message.find("L1") != std::string::npos);

    h = base_v3();
    h.version = 4;
    e = qcow2::parse_header(serialize(h));
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("4") != std::string::npos);
}

TEST_CASE("parse_header accepts values at every limit")
{
    struct Good {
        const char* name;
        std::function<void(Header&)> edit;
    };
    const Good rows[] = {
        {"cluster_bits 9", [](Header& h) { h.cluster_bits = 9; h.size = 1 << 20; h.l1_size = 64; h.l1_table_offset = 0x600;
                                           h.refcount_table_offset = 0x200; }},
        {"cluster_bits 21", [](Header& h) { h.cluster_bits = 21; h.l1_table_offset = 0; h.refcount_table_offset = 0; h.l1_size = 1; }},
        {"extended L2 with 16 KiB clusters",
         [](Header& h) {
             h.cluster_bits = 14;
             h.incompatible_features |= qcow2::incompat_extended_l2;
             h.l1_size = 64; // 1024 entries * 16 KiB = 16 MiB per L2
             h.l1_table_offset = 0x4000;
             h.refcount_table_offset = 0x8000;
         }},
        {"refcount_order 0", [](Header& h) { h.refcount_order = 0; }},
        {"refcount_order 6", [](Header& h) { h.refcount_order = 6; }},
        {"header_length 104", [](Header& h) { h.header_length = 104; }},
        {"header_length = cluster size", [](Header& h) { h.header_length = 65536; }},
        {"L1 exactly large enough", [](Header& h) { h.size = 1ull << 30; h.l1_size = 2; }},
        {"L1 larger than needed", [](Header& h) { h.l1_size = 100; }},
        {"L1 of 32 MiB", [](Header& h) { h.l1_size = (32u << 20) / 8; }},
        {"empty disk and L1", [](Header& h) { h.size = 0; h.l1_size = 0; }},
        {"refcount table of 8 MiB", [](Header& h) { h.refcount_table_clusters = (8u << 20) / 65536; }},
        {"65536 snapshots", [](Header& h) { h.nb_snapshots = 65536; h.snapshots_offset = 0x50000; }},
        // Too many for qemu, but refused only when the table is read: qemu-img
        // check opens the image and check -r all drops the excess.
        {"65537 snapshots", [](Header& h) { h.nb_snapshots = 65537; h.snapshots_offset = 0x50000; }},
        {"backing name of 1023 bytes", [](Header& h) { h.backing_file_offset = 0x200; h.backing_file_size = 1023; }},
        {"backing name ending at the cluster end",
         [](Header& h) { h.backing_file_offset = 65536 - 10; h.backing_file_size = 10; }},
        {"zstd with its bit",
         [](Header& h) {
             h.compression_type = qcow2::CompressionType::zstd;
             h.incompatible_features |= qcow2::incompat_compression;
         }},
        {"size 2^61 with the largest L1", [](Header& h) { h.size = 1ull << 61; h.cluster_bits = 21; h.l1_size = 1u << 22;
                                                    h.l1_table_offset = 0; h.refcount_table_offset = 0; }},
        {"crypt_method luks", [](Header& h) { h.crypt_method = qcow2::CryptMethod::luks; }},
    };
    for (const Good& row : rows) {
        INFO(std::string(row.name));
        Header h = base_v3();
        row.edit(h);
        auto bytes = serialize(h);
        auto parsed = qcow2::parse_header(bytes);
        if (!parsed)
            FAIL_CHECK(parsed.error().message);
        else
            check_same(*parsed, h);
    }
}

TEST_CASE("serialize_header and parse_header round-trip")
{
    SUBCASE("version 3, every field set")
    {
        Header h = base_v3();
        h.backing_file_offset = 0x1f0;
        h.backing_file_size = 17;
        h.size = 0x3fffffff;
        h.crypt_method = qcow2::CryptMethod::aes;
        h.nb_snapshots = 7;
        h.snapshots_offset = 0x70000;
        h.incompatible_features = qcow2::incompat_dirty | qcow2::incompat_compression | (1ull << 40);
        h.compatible_features = 0x8000000000000001ull;
        h.autoclear_features = 0x3;
        h.refcount_order = 6;
        h.compression_type = qcow2::CompressionType::zstd;
        auto parsed = qcow2::parse_header(serialize(h));
        REQUIRE(parsed);
        check_same(*parsed, h);
    }
    SUBCASE("version 3 with extended L2")
    {
        Header h = base_v3();
        h.cluster_bits = 14;
        h.incompatible_features = qcow2::incompat_extended_l2;
        h.l1_size = 64;
        h.l1_table_offset = 0x4000;
        h.refcount_table_offset = 0x8000;
        auto parsed = qcow2::parse_header(serialize(h));
        REQUIRE(parsed);
        check_same(*parsed, h);
        CHECK(parsed->extended_l2());
    }
    SUBCASE("version 2")
    {
        Header h = base_v2();
        h.backing_file_offset = 0x48;
        h.backing_file_size = 5;
        auto parsed = qcow2::parse_header(serialize(h));
        REQUIRE(parsed);
        check_same(*parsed, h);
    }
}

TEST_CASE("serialize_header writes header_length bytes at the specified offsets")
{
    SUBCASE("version 3, header_length 112")
    {
        std::vector<uint8_t> out(128, 0xaa);
        Header h = base_v3();
        h.compression_type = qcow2::CompressionType::zstd;
        h.incompatible_features = qcow2::incompat_compression;
        qcow2::serialize_header(h, out);
        CHECK(out[0] == 'Q');
        CHECK(out[1] == 'F');
        CHECK(out[2] == 'I');
        CHECK(out[3] == 0xfb);
        CHECK(util::load_be32(out, 4) == 3);
        CHECK(util::load_be32(out, 20) == 16);
        CHECK(util::load_be64(out, 24) == 1ull << 30);
        CHECK(util::load_be64(out, 40) == 0x30000);
        CHECK(util::load_be64(out, 72) == qcow2::incompat_compression);
        CHECK(util::load_be32(out, 96) == 4);
        CHECK(util::load_be32(out, 100) == 112);
        CHECK(out[104] == 1);
        for (size_t i = 105; i < 112; ++i)
            CHECK(out[i] == 0); // padding is zeroed
        CHECK(out[112] == 0xaa); // the extension area is left alone
    }
    SUBCASE("version 3, header_length 104")
    {
        std::vector<uint8_t> out(128, 0xaa);
        Header h = base_v3();
        h.header_length = 104;
        qcow2::serialize_header(h, out);
        CHECK(util::load_be32(out, 100) == 104);
        CHECK(out[104] == 0xaa);
    }
    SUBCASE("version 2")
    {
        std::vector<uint8_t> out(128, 0xaa);
        qcow2::serialize_header(base_v2(), out);
        CHECK(util::load_be32(out, 4) == 2);
        CHECK(util::load_be64(out, 64) == 0);
        CHECK(out[72] == 0xaa);
    }
}

TEST_CASE("parse_header at every truncation length: bad magic, truncated, then valid")
{
    for (uint32_t version : {2u, 3u}) {
        CAPTURE(version);
        Header h = version == 2 ? base_v2() : base_v3();
        auto bytes = serialize(h, 112);
        // The last byte a version 3 parser needs is the compression type at 104.
        size_t needed = version == 2 ? 72 : 105;
        for (size_t len = 0; len <= bytes.size(); ++len) {
            CAPTURE(len);
            auto parsed = qcow2::parse_header(std::span<const uint8_t>(bytes).first(len));
            if (len < 4) {
                REQUIRE_FALSE(parsed);
                CHECK(parsed.error().code == Errc::bad_magic);
            } else if (len < needed) {
                REQUIRE_FALSE(parsed);
                CHECK(parsed.error().code == Errc::truncated);
            } else {
                CHECK(parsed);
            }
        }
    }
}

TEST_CASE("parse_header never crashes on bit flips")
{
    auto bytes = serialize(base_v3(), 112);
    size_t accepted = 0;
    for (size_t bit = 0; bit < 112 * 8; ++bit) {
        CAPTURE(bit);
        auto flipped = bytes;
        flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        auto parsed = qcow2::parse_header(flipped);
        if (bit < 32) {
            REQUIRE_FALSE(parsed);
            CHECK(parsed.error().code == Errc::bad_magic);
        } else if (parsed) {
            ++accepted;
            CHECK(parsed->cluster_bits >= qcow2::min_cluster_bits);
            CHECK(parsed->cluster_bits <= qcow2::max_cluster_bits);
            CHECK(parsed->refcount_order <= qcow2::max_refcount_order);
            CHECK(parsed->header_length <= parsed->cluster_size());
        } else {
            CHECK_FALSE(parsed.error().message.empty());
        }
    }
    // Flips in the feature bits, for one, are accepted.
    CHECK(accepted > 0);
}
