#include "fixtures/doctest_printers.hpp"
#include "qcow2/extensions.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace imgmend;
using util::Errc;
using util::Result;

namespace {

// A header cluster with extensions written by hand after header_length.
struct HeaderCluster {
    qcow2::Header header;
    std::vector<uint8_t> bytes;
    size_t pos;

    explicit HeaderCluster(uint32_t version = 3, uint32_t cluster_bits = 12)
    {
        header.version = version;
        header.cluster_bits = cluster_bits;
        header.header_length = version == 2 ? 72 : 112;
        bytes.assign(header.cluster_size(), 0);
        pos = header.header_length;
    }
    // Appends an extension, padded to 8 bytes; `length` overrides the length field.
    HeaderCluster& add(uint32_t type, const std::vector<uint8_t>& data, std::optional<uint32_t> length = {})
    {
        util::store_be32(bytes, pos, type);
        util::store_be32(bytes, pos + 4, length.value_or(static_cast<uint32_t>(data.size())));
        std::copy(data.begin(), data.end(), bytes.begin() + static_cast<ptrdiff_t>(pos + 8));
        pos += 8 + (data.size() + 7) / 8 * 8;
        return *this;
    }
    HeaderCluster& add(uint32_t type, const std::string& s)
    {
        return add(type, std::vector<uint8_t>(s.begin(), s.end()));
    }
    Result<qcow2::Extensions> parse() const { return qcow2::parse_extensions(header, bytes); }
};

std::vector<uint8_t> feature_entry(uint8_t type, uint8_t bit, const std::string& name)
{
    std::vector<uint8_t> e(48, 0);
    e[0] = type;
    e[1] = bit;
    std::copy(name.begin(), name.end(), e.begin() + 2);
    return e;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts)
{
    std::vector<uint8_t> out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::vector<uint8_t> bitmaps_ext(uint32_t nb, uint32_t reserved, uint64_t size, uint64_t offset)
{
    std::vector<uint8_t> d(24);
    util::store_be32(d, 0, nb);
    util::store_be32(d, 4, reserved);
    util::store_be64(d, 8, size);
    util::store_be64(d, 16, offset);
    return d;
}

} // namespace

TEST_CASE("parse_extensions of an empty list")
{
    HeaderCluster hc;
    auto ext = hc.parse();
    REQUIRE(ext);
    CHECK_FALSE(ext->backing_format);
    CHECK_FALSE(ext->bitmaps);
    CHECK_FALSE(ext->encryption);
    CHECK_FALSE(ext->data_file);
    CHECK(ext->feature_names.empty());
    CHECK(ext->unknown.empty());
    CHECK(ext->all.empty());
}

TEST_CASE("parse_extensions reads the string extensions")
{
    HeaderCluster hc;
    hc.add(qcow2::ext_backing_format, std::string("qcow2"));
    hc.add(qcow2::ext_data_file, std::string("data.raw")); // exactly 8 bytes: no padding
    auto ext = hc.parse();
    REQUIRE(ext);
    REQUIRE(ext->backing_format);
    CHECK(*ext->backing_format == "qcow2");
    REQUIRE(ext->data_file);
    CHECK(*ext->data_file == "data.raw");
    CHECK(ext->unknown.empty());
    REQUIRE(ext->all.size() == 2);
    CHECK(ext->all[0].type == qcow2::ext_backing_format);
    CHECK(ext->all[1].type == qcow2::ext_data_file);
}

TEST_CASE("parse_extensions: string extensions are not NUL-terminated, padding is not part of them")
{
    HeaderCluster hc;
    // Padding that is not zero must not leak into the string.
    hc.add(qcow2::ext_backing_format, std::string("raw"));
    hc.bytes[hc.header.header_length + 8 + 3] = 'X';
    auto ext = hc.parse();
    REQUIRE(ext);
    CHECK(*ext->backing_format == "raw");
}

TEST_CASE("parse_extensions reads the feature name table")
{
    HeaderCluster hc;
    std::string full(46, 'n'); // a name filling the field has no terminator
    hc.add(qcow2::ext_feature_names, concat({feature_entry(0, 0, "dirty bit"), feature_entry(1, 0, "lazy refcounts"),
                                             feature_entry(2, 1, "raw external data"), feature_entry(0, 63, full)}));
    auto ext = hc.parse();
    REQUIRE(ext);
    REQUIRE(ext->feature_names.size() == 4);
    CHECK(ext->feature_names[0].type == qcow2::FeatureType::incompatible);
    CHECK(ext->feature_names[0].bit == 0);
    CHECK(ext->feature_names[0].name == "dirty bit");
    CHECK(ext->feature_names[1].type == qcow2::FeatureType::compatible);
    CHECK(ext->feature_names[1].name == "lazy refcounts");
    CHECK(ext->feature_names[2].type == qcow2::FeatureType::autoclear);
    CHECK(ext->feature_names[2].bit == 1);
    CHECK(ext->feature_names[3].name == full);

    CHECK(qcow2::feature_name(*ext, qcow2::FeatureType::incompatible, 0) == "dirty bit");
    CHECK(qcow2::feature_name(*ext, qcow2::FeatureType::compatible, 0) == "lazy refcounts");
    CHECK(qcow2::feature_name(*ext, qcow2::FeatureType::autoclear, 1) == "raw external data");
    CHECK(qcow2::feature_name(*ext, qcow2::FeatureType::incompatible, 63) == full);
    // Same bit, other bitmap: not named by the table.
    CHECK(qcow2::feature_name(*ext, qcow2::FeatureType::autoclear, 0) == "unknown feature bit 0");
    CHECK(qcow2::feature_name(*ext, qcow2::FeatureType::incompatible, 7) == "unknown feature bit 7");
}

TEST_CASE("parse_extensions ignores a partial feature table entry")
{
    HeaderCluster hc;
    auto data = concat({feature_entry(0, 5, "five"), std::vector<uint8_t>(20, 'x')});
    hc.add(qcow2::ext_feature_names, data);
    auto ext = hc.parse();
    REQUIRE(ext);
    REQUIRE(ext->feature_names.size() == 1);
    CHECK(ext->feature_names[0].name == "five");
}

TEST_CASE("parse_extensions reads the bitmaps extension")
{
    HeaderCluster hc;
    hc.add(qcow2::ext_bitmaps, bitmaps_ext(3, 0, 0x180, 0x50000));
    auto ext = hc.parse();
    REQUIRE(ext);
    REQUIRE(ext->bitmaps);
    CHECK(ext->bitmaps->nb_bitmaps == 3);
    CHECK(ext->bitmaps->directory_size == 0x180);
    CHECK(ext->bitmaps->directory_offset == 0x50000);
}

TEST_CASE("parse_extensions refuses a malformed bitmaps extension")
{
    SUBCASE("non-zero reserved field")
    {
        HeaderCluster hc;
        hc.add(qcow2::ext_bitmaps, bitmaps_ext(1, 1, 0x18, 0x50000));
        auto ext = hc.parse();
        REQUIRE_FALSE(ext);
        CHECK(ext.error().code == Errc::corrupt_metadata);
    }
    SUBCASE("too short")
    {
        HeaderCluster hc;
        auto d = bitmaps_ext(1, 0, 0x18, 0x50000);
        d.resize(16);
        hc.add(qcow2::ext_bitmaps, d);
        auto ext = hc.parse();
        REQUIRE_FALSE(ext);
        CHECK(ext.error().code == Errc::corrupt_metadata);
        CHECK(ext.error().message.find("bitmaps") != std::string::npos);
    }
}

TEST_CASE("parse_extensions reads the encryption header pointer")
{
    HeaderCluster hc;
    std::vector<uint8_t> d(16);
    util::store_be64(d, 0, 0x20000);
    util::store_be64(d, 8, 0x1234);
    hc.add(qcow2::ext_encryption, d);
    auto ext = hc.parse();
    REQUIRE(ext);
    REQUIRE(ext->encryption);
    CHECK(ext->encryption->offset == 0x20000);
    CHECK(ext->encryption->length == 0x1234);

    HeaderCluster short_hc;
    d.resize(12);
    short_hc.add(qcow2::ext_encryption, d);
    auto bad = short_hc.parse();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::corrupt_metadata);
}

TEST_CASE("parse_extensions keeps unknown extensions verbatim, in file order")
{
    HeaderCluster hc;
    hc.add(0x12345678, std::vector<uint8_t>{1, 2, 3, 4, 5});
    hc.add(qcow2::ext_backing_format, std::string("raw"));
    hc.add(0xdeadbeef, std::vector<uint8_t>{});
    hc.add(0x0badcafe, std::vector<uint8_t>(16, 0x77));
    auto ext = hc.parse();
    REQUIRE(ext);
    REQUIRE(ext->unknown.size() == 3);
    CHECK(ext->unknown[0].type == 0x12345678);
    CHECK(ext->unknown[0].data == std::vector<uint8_t>{1, 2, 3, 4, 5}); // without its padding
    CHECK(ext->unknown[1].type == 0xdeadbeef);
    CHECK(ext->unknown[1].data.empty());
    CHECK(ext->unknown[2].type == 0x0badcafe);
    CHECK(ext->unknown[2].data == std::vector<uint8_t>(16, 0x77));

    REQUIRE(ext->all.size() == 4);
    CHECK(ext->all[0].type == 0x12345678);
    CHECK(ext->all[1].type == qcow2::ext_backing_format);
    CHECK(ext->all[1].data == std::vector<uint8_t>{'r', 'a', 'w'});
    CHECK(ext->all[2].type == 0xdeadbeef);
    CHECK(ext->all[3].type == 0x0badcafe);
    CHECK(*ext->backing_format == "raw");
}

TEST_CASE("parse_extensions stops at the end marker")
{
    HeaderCluster hc;
    hc.add(qcow2::ext_backing_format, std::string("raw"));
    hc.add(qcow2::ext_end, std::vector<uint8_t>{});
    hc.add(qcow2::ext_data_file, std::string("ignored"));
    auto ext = hc.parse();
    REQUIRE(ext);
    CHECK(ext->all.size() == 1);
    CHECK_FALSE(ext->data_file);
}

TEST_CASE("parse_extensions refuses an extension that overruns the header cluster")
{
    SUBCASE("length past the cluster end")
    {
        HeaderCluster hc;
        hc.add(0x11111111, std::vector<uint8_t>(8, 0), static_cast<uint32_t>(hc.bytes.size()));
        auto ext = hc.parse();
        REQUIRE_FALSE(ext);
        CHECK(ext.error().code == Errc::corrupt_metadata);
        CHECK(ext.error().message.find("0x11111111") != std::string::npos);
    }
    SUBCASE("length 2^32 - 1")
    {
        HeaderCluster hc;
        hc.add(qcow2::ext_backing_format, std::vector<uint8_t>{}, 0xffffffffu);
        auto ext = hc.parse();
        REQUIRE_FALSE(ext);
        CHECK(ext.error().code == Errc::corrupt_metadata);
    }
    SUBCASE("an extension filling the cluster exactly is fine")
    {
        HeaderCluster hc;
        size_t room = hc.bytes.size() - hc.pos - 8;
        hc.add(0x22222222, std::vector<uint8_t>(room, 0x5));
        auto ext = hc.parse();
        REQUIRE(ext);
        REQUIRE(ext->unknown.size() == 1);
        CHECK(ext->unknown[0].data.size() == room);
    }
    SUBCASE("one byte too long")
    {
        HeaderCluster hc;
        size_t room = hc.bytes.size() - hc.pos - 8;
        hc.add(0x22222222, std::vector<uint8_t>(8, 0x5), static_cast<uint32_t>(room + 1));
        auto ext = hc.parse();
        REQUIRE_FALSE(ext);
        CHECK(ext.error().code == Errc::corrupt_metadata);
    }
}

TEST_CASE("parse_extensions ends where the backing file name starts")
{
    HeaderCluster hc;
    hc.add(qcow2::ext_backing_format, std::string("qcow2"));
    // No end marker: the backing name follows directly, as the space allows.
    std::string name = "base-image.qcow2";
    hc.header.backing_file_offset = hc.pos;
    hc.header.backing_file_size = static_cast<uint32_t>(name.size());
    std::copy(name.begin(), name.end(), hc.bytes.begin() + static_cast<ptrdiff_t>(hc.pos));
    auto ext = hc.parse();
    REQUIRE(ext);
    CHECK(ext->all.size() == 1);
    CHECK(*ext->backing_format == "qcow2");

    // An extension may not run into the name.
    HeaderCluster over;
    over.add(qcow2::ext_backing_format, std::string("qcow2"));
    over.header.backing_file_offset = over.header.header_length + 12;
    over.header.backing_file_size = 4;
    auto bad = over.parse();
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::corrupt_metadata);
}

TEST_CASE("parse_extensions in a version 2 image start at byte 72")
{
    HeaderCluster hc(2);
    hc.add(qcow2::ext_backing_format, std::string("raw"));
    auto ext = hc.parse();
    REQUIRE(ext);
    REQUIRE(ext->backing_format);
    CHECK(*ext->backing_format == "raw");
}

TEST_CASE("parse_extensions on a file shorter than the cluster")
{
    HeaderCluster hc;
    hc.add(qcow2::ext_backing_format, std::string("qcow2"));
    hc.add(0x33333333, std::vector<uint8_t>(40, 1));
    size_t used = hc.pos;
    SUBCASE("the list runs to the end of the file without a marker")
    {
        auto ext = qcow2::parse_extensions(hc.header, std::span<const uint8_t>(hc.bytes).first(used));
        REQUIRE(ext);
        CHECK(ext->all.size() == 2);
    }
    SUBCASE("an extension cut by the end of file")
    {
        auto ext = qcow2::parse_extensions(hc.header, std::span<const uint8_t>(hc.bytes).first(used - 8));
        REQUIRE_FALSE(ext);
        CHECK(ext.error().code == Errc::corrupt_metadata);
    }
    SUBCASE("shorter than the header itself")
    {
        auto ext = qcow2::parse_extensions(hc.header, std::span<const uint8_t>(hc.bytes).first(50));
        REQUIRE(ext);
        CHECK(ext->all.empty());
    }
}

TEST_CASE("parse_extensions at every length of the header cluster never crashes")
{
    HeaderCluster hc(3, 9);
    hc.add(qcow2::ext_backing_format, std::string("qcow2"));
    hc.add(qcow2::ext_feature_names, feature_entry(0, 0, "dirty bit"));
    hc.add(qcow2::ext_bitmaps, bitmaps_ext(1, 0, 0x20, 0x1000));
    size_t used = hc.pos;
    for (size_t len = 0; len <= hc.bytes.size(); ++len) {
        CAPTURE(len);
        auto ext = qcow2::parse_extensions(hc.header, std::span<const uint8_t>(hc.bytes).first(len));
        if (len >= used) {
            REQUIRE(ext);
            CHECK(ext->all.size() == 3);
        } else if (ext) {
            CHECK(ext->all.size() < 3);
        } else {
            CHECK(ext.error().code == Errc::corrupt_metadata);
        }
    }
}

TEST_CASE("parse_extensions never crashes on bit flips")
{
    HeaderCluster hc(3, 9);
    hc.add(qcow2::ext_backing_format, std::string("qcow2"));
    hc.add(qcow2::ext_bitmaps, bitmaps_ext(1, 0, 0x20, 0x1000));
    hc.add(0x44444444, std::vector<uint8_t>(9, 3));
    for (size_t bit = hc.header.header_length * 8; bit < hc.pos * 8; ++bit) {
        auto flipped = hc;
        flipped.bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        auto ext = flipped.parse();
        if (ext) {
            for (const auto& e : ext->all)
                CHECK(e.data.size() <= hc.bytes.size());
        } else {
            CHECK(ext.error().code == Errc::corrupt_metadata);
        }
    }
}
