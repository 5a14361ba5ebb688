// Rewriting the header cluster with a new backing reference
// (lib/qcow2/header_rewrite.cpp). Every result is read back through the
// header and extension parsers (and Image::open), so what is tested is what
// a reader of the image sees.
#include "fixtures/doctest_printers.hpp"
#include "fixtures/header_fields.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "qcow2/extensions.hpp"
#include "qcow2/header_rewrite.hpp"
#include "qcow2/image.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

using namespace imgmend;
using qcow2::BackingReference;
using util::Errc;

namespace {

constexpr uint32_t unknown_a = 0x12345678;
constexpr uint32_t unknown_b = 0x0badcafe;

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Are bytes [from, to) of `v` all zero (to the end by default)?
bool zeros(const std::vector<uint8_t>& v, uint64_t from, uint64_t to = UINT64_MAX)
{
    to = std::min<uint64_t>(to, v.size());
    return std::all_of(v.begin() + static_cast<ptrdiff_t>(from), v.begin() + static_cast<ptrdiff_t>(to),
                       [](uint8_t b) { return b == 0; });
}

std::vector<uint8_t> feature_table()
{
    std::vector<uint8_t> t(2 * 48, 0);
    t[0] = 0; // incompatible
    t[1] = 0;
    std::string dirty = "dirty bit";
    std::copy(dirty.begin(), dirty.end(), t.begin() + 2);
    t[48] = 1; // compatible
    t[49] = 0;
    std::string lazy = "lazy refcounts";
    std::copy(lazy.begin(), lazy.end(), t.begin() + 50);
    return t;
}

// What a reader sees in a header region.
struct Parsed {
    qcow2::Header header;
    qcow2::Extensions ext;
    std::optional<std::string> backing;
};

Parsed parse(std::span<const uint8_t> bytes)
{
    auto h = qcow2::parse_header(bytes);
    REQUIRE(h);
    auto e = qcow2::parse_extensions(*h, bytes);
    REQUIRE(e);
    Parsed p{*h, std::move(*e), std::nullopt};
    if (h->backing_file_offset != 0) {
        REQUIRE(h->backing_file_offset + h->backing_file_size <= bytes.size());
        p.backing = std::string(bytes.begin() + static_cast<ptrdiff_t>(h->backing_file_offset),
                                bytes.begin() + static_cast<ptrdiff_t>(h->backing_file_offset + h->backing_file_size));
    }
    return p;
}

std::vector<uint32_t> types(const qcow2::Extensions& ext)
{
    std::vector<uint32_t> out;
    for (const auto& e : ext.all)
        out.push_back(e.type);
    return out;
}

// A built image and the header it starts with, as the rebase sees them.
struct Source {
    std::vector<uint8_t> image;
    Parsed parsed;
    uint64_t used;

    explicit Source(test::BuilderOptions options)
    {
        test::Qcow2Builder b(std::move(options));
        b.write_cluster(0, 0x42);
        image = b.bytes();
        parsed = parse(image);
        used = qcow2::header_bytes_used(parsed.header, parsed.ext);
    }
    qcow2::Result<std::vector<uint8_t>> rewrite(const BackingReference& backing) const
    {
        return qcow2::rewrite_header(parsed.header, parsed.ext, backing, used);
    }
    // The image with its header region replaced, opened.
    std::unique_ptr<qcow2::Image> open_with(const std::vector<uint8_t>& header) const
    {
        auto bytes = image;
        REQUIRE(header.size() <= parsed.header.cluster_size());
        std::copy(header.begin(), header.end(), bytes.begin());
        auto img = qcow2::Image::open(std::make_shared<io::MemoryDevice>(std::move(bytes)));
        REQUIRE(img);
        return std::move(*img);
    }
};

test::BuilderOptions with_extensions(uint32_t version)
{
    test::BuilderOptions o;
    o.version = version;
    o.extensions = {{unknown_a, {1, 2, 3, 4, 5}}, {qcow2::ext_feature_names, feature_table()},
                    {unknown_b, bytes_of("sixteen bytes!!!")}};
    return o;
}

// Fixed fields other than the backing reference (offsets 8 to 19).
void check_same_fixed_fields(const qcow2::Header& a, const qcow2::Header& b)
{
    test::check_same_header(a, b, test::BackingFields::ignored);
}

} // namespace

TEST_CASE("rewriting the same backing reference reproduces the header byte for byte")
{
    for (uint32_t version : {2u, 3u}) {
        CAPTURE(version);
        SUBCASE("with a backing file and its format")
        {
            auto o = with_extensions(version);
            o.backing_name = "base image.qcow2";
            o.backing_format = "qcow2";
            Source s(o);
            REQUIRE(s.parsed.backing == "base image.qcow2");
            auto out = s.rewrite({"base image.qcow2", "qcow2"});
            REQUIRE(out);
            CHECK(out->size() == s.used);
            CHECK(std::equal(out->begin(), out->end(), s.image.begin()));
        }
        SUBCASE("without a backing file")
        {
            Source s(with_extensions(version));
            auto out = s.rewrite({"", ""});
            REQUIRE(out);
            CHECK(out->size() == s.used);
            CHECK(std::equal(out->begin(), out->end(), s.image.begin()));
        }
    }
}

TEST_CASE("adding a backing file: the format extension first, the name after the end marker")
{
    for (uint32_t version : {2u, 3u}) {
        CAPTURE(version);
        Source s(with_extensions(version));
        REQUIRE_FALSE(s.parsed.backing);
        auto out = s.rewrite({"../base.raw", "raw"});
        REQUIRE(out);
        Parsed p = parse(*out);
        check_same_fixed_fields(p.header, s.parsed.header);
        CHECK(p.backing == "../base.raw");
        CHECK(p.ext.backing_format == "raw");
        CHECK(types(p.ext) ==
              std::vector<uint32_t>{qcow2::ext_backing_format, unknown_a, qcow2::ext_feature_names, unknown_b});
        // header, format (8 + 8), A (8 + 8), feature names (8 + 96), B (8 + 16), end (8)
        const uint64_t marker = p.header.header_length + 16 + 16 + 104 + 24;
        CHECK(util::load_be64(*out, marker) == 0u);
        CHECK(p.header.backing_file_offset == marker + 8);
        CHECK(p.header.backing_file_size == 11u);
        CHECK(out->size() == marker + 8 + 11);
        CHECK(qcow2::header_bytes_used(p.header, p.ext) == out->size());

        auto img = s.open_with(*out);
        CHECK(img->backing_name() == "../base.raw");
        CHECK(img->extensions().backing_format == "raw");
        CHECK(img->extensions().unknown.size() == 2);
        CHECK(img->extensions().feature_names.size() == 2);
    }
}

TEST_CASE("extensions other than the backing format are kept in order, unknown ones verbatim")
{
    auto o = with_extensions(3);
    o.backing_name = "old.qcow2";
    o.backing_format = "qcow2";
    Source s(o);
    auto out = s.rewrite({"new.raw", "raw"});
    REQUIRE(out);
    Parsed p = parse(*out);
    REQUIRE(p.ext.all.size() == s.parsed.ext.all.size());
    for (size_t i = 1; i < p.ext.all.size(); ++i) {
        CAPTURE(i);
        CHECK(p.ext.all[i].type == s.parsed.ext.all[i].type);
        CHECK(p.ext.all[i].data == s.parsed.ext.all[i].data);
    }
    CHECK(p.ext.unknown[0].data == std::vector<uint8_t>{1, 2, 3, 4, 5});
    CHECK(p.ext.unknown[1].data == bytes_of("sixteen bytes!!!"));
    REQUIRE(p.ext.feature_names.size() == 2);
    CHECK(p.ext.feature_names[1].name == "lazy refcounts");
    // The five-byte extension is padded with zeros to eight.
    const uint64_t a_data = p.header.header_length + 16 + 8;
    CHECK(util::load_be32(*out, a_data - 8) == unknown_a);
    CHECK(util::load_be32(*out, a_data - 4) == 5u);
    CHECK(zeros(*out, a_data + 5, a_data + 8));
    CHECK(p.backing == "new.raw");
    CHECK(p.ext.backing_format == "raw");
}

TEST_CASE("the backing format extension is replaced where it stood; duplicates go")
{
    test::BuilderOptions o;
    o.backing_name = "old.raw";
    SUBCASE("in the middle")
    {
        o.extensions = {{unknown_a, {9}}, {qcow2::ext_backing_format, bytes_of("raw")}, {unknown_b, {8, 8}}};
        Source s(o);
        auto out = s.rewrite({"new.qcow2", "qcow2"});
        REQUIRE(out);
        Parsed p = parse(*out);
        CHECK(types(p.ext) == std::vector<uint32_t>{unknown_a, qcow2::ext_backing_format, unknown_b});
        CHECK(p.ext.backing_format == "qcow2");
        CHECK(p.backing == "new.qcow2");
    }
    SUBCASE("twice: the first place is kept, with the new format")
    {
        o.extensions = {{qcow2::ext_backing_format, bytes_of("raw")},
                        {unknown_a, {9}},
                        {qcow2::ext_backing_format, bytes_of("qcow2")}};
        Source s(o);
        REQUIRE(types(s.parsed.ext).size() == 3);
        auto out = s.rewrite({"new.qcow2", "qcow2"});
        REQUIRE(out);
        Parsed p = parse(*out);
        CHECK(types(p.ext) == std::vector<uint32_t>{qcow2::ext_backing_format, unknown_a});
        CHECK(p.ext.backing_format == "qcow2");
        // Shorter than before: the old bytes past the new end are cleared.
        REQUIRE(out->size() == s.used);
        const uint64_t name_end = p.header.backing_file_offset + p.header.backing_file_size;
        CHECK(name_end < s.used);
        CHECK(zeros(*out, name_end));
    }
}

TEST_CASE("removing the backing file drops the name, its format, and every stale byte")
{
    for (uint32_t version : {2u, 3u}) {
        CAPTURE(version);
        auto o = with_extensions(version);
        o.backing_name = std::string(300, 'n');
        o.backing_format = "qcow2";
        Source s(o);
        SUBCASE("flattened")
        {
            auto out = s.rewrite({"", ""});
            REQUIRE(out);
            REQUIRE(out->size() == s.used); // as long as the old header, to overwrite the old name
            Parsed p = parse(*out);
            check_same_fixed_fields(p.header, s.parsed.header);
            CHECK(p.header.backing_file_offset == 0u);
            CHECK(p.header.backing_file_size == 0u);
            CHECK_FALSE(p.ext.backing_format);
            CHECK(types(p.ext) == std::vector<uint32_t>{unknown_a, qcow2::ext_feature_names, unknown_b});
            const uint64_t end = qcow2::header_bytes_used(p.header, p.ext);
            CHECK(end < s.used);
            CHECK(zeros(*out, end));
            CHECK_FALSE(s.open_with(*out)->backing_name());
        }
        SUBCASE("a format without a name is not written")
        {
            auto out = s.rewrite({"", "raw"});
            REQUIRE(out);
            Parsed p = parse(*out);
            CHECK_FALSE(p.backing);
            CHECK_FALSE(p.ext.backing_format);
        }
        SUBCASE("a name without a format drops the old format")
        {
            auto out = s.rewrite({"other.img", ""});
            REQUIRE(out);
            Parsed p = parse(*out);
            CHECK(p.backing == "other.img");
            CHECK_FALSE(p.ext.backing_format);
            CHECK(types(p.ext) == std::vector<uint32_t>{unknown_a, qcow2::ext_feature_names, unknown_b});
            CHECK(s.open_with(*out)->backing_name() == "other.img");
        }
    }
}

TEST_CASE("version 3 fields survive: features, refcount width, compression type")
{
    test::BuilderOptions o;
    o.compression_type = qcow2::CompressionType::zstd;
    o.refcount_order = 6;
    o.compatible_features = qcow2::compat_lazy_refcounts;
    o.extensions = {{unknown_a, {7}}};
    Source s(o);
    REQUIRE(s.parsed.header.header_length == 112u);
    auto out = s.rewrite({"b.qcow2", "qcow2"});
    REQUIRE(out);
    Parsed p = parse(*out);
    check_same_fixed_fields(p.header, s.parsed.header);
    CHECK(p.header.compression_type == qcow2::CompressionType::zstd);
    CHECK((*out)[104] == 1);
    CHECK(p.header.refcount_order == 6u);
    // The name and extensions are read from the image as rewritten.
    auto img = s.open_with(*out);
    CHECK(img->backing_name() == "b.qcow2");
    CHECK(img->extensions().backing_format == "qcow2");
}

TEST_CASE("the header's own backing fields are replaced, not trusted")
{
    Source s(with_extensions(3));
    qcow2::Header h = s.parsed.header;
    h.backing_file_offset = 4000; // wherever the old name was
    h.backing_file_size = 900;
    auto out = qcow2::rewrite_header(h, s.parsed.ext, {"x", "raw"}, 0);
    REQUIRE(out);
    Parsed p = parse(*out);
    CHECK(p.backing == "x");
    CHECK(p.header.backing_file_offset + 1 == out->size());
}

TEST_CASE("the result is as long as the old header when that was longer")
{
    Source s(with_extensions(3));
    auto longer = qcow2::rewrite_header(s.parsed.header, s.parsed.ext, {"x", ""}, 3000);
    REQUIRE(longer);
    CHECK(longer->size() == 3000u);
    auto shorter = qcow2::rewrite_header(s.parsed.header, s.parsed.ext, {"x", ""}, 10);
    REQUIRE(shorter);
    CHECK(shorter->size() < 3000u);
    CHECK(std::equal(shorter->begin(), shorter->end(), longer->begin()));
    CHECK(zeros(*longer, shorter->size()));
}

TEST_CASE("backing file names: 1023 bytes at most")
{
    Source s(with_extensions(3));
    auto ok = s.rewrite({std::string(1023, 'a'), "raw"});
    REQUIRE(ok);
    CHECK(parse(*ok).backing == std::string(1023, 'a'));
    auto too_long = s.rewrite({std::string(1024, 'a'), "raw"});
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().code == Errc::invalid_argument);
    CHECK(too_long.error().message.find("1024") != std::string::npos);
}

TEST_CASE("a header that does not fit its cluster is refused")
{
    // 512-byte clusters: 112 bytes of header, the end marker, the name.
    qcow2::Header h;
    h.version = 3;
    h.cluster_bits = 9;
    h.header_length = 112;
    h.size = 1 << 20;
    h.l1_size = 32;
    qcow2::Extensions none;
    SUBCASE("a name that exactly fills the cluster")
    {
        auto out = qcow2::rewrite_header(h, none, {std::string(392, 'f'), ""}, 0);
        REQUIRE(out);
        CHECK(out->size() == 512u);
        Parsed p = parse(*out);
        CHECK(p.header.backing_file_offset == 120u);
        CHECK(p.backing == std::string(392, 'f'));
    }
    SUBCASE("one byte more")
    {
        auto out = qcow2::rewrite_header(h, none, {std::string(393, 'f'), ""}, 0);
        REQUIRE_FALSE(out);
        CHECK(out.error().code == Errc::no_space);
        CHECK(out.error().message.find("513") != std::string::npos);
        CHECK(out.error().message.find("512") != std::string::npos);
    }
    SUBCASE("the format extension takes its room too")
    {
        CHECK(qcow2::rewrite_header(h, none, {std::string(376, 'f'), "qcow2"}, 0));
        auto out = qcow2::rewrite_header(h, none, {std::string(377, 'f'), "qcow2"}, 0);
        REQUIRE_FALSE(out);
        CHECK(out.error().code == Errc::no_space);
    }
    SUBCASE("and so do the extensions kept")
    {
        qcow2::Extensions ext;
        ext.all.push_back({unknown_a, std::vector<uint8_t>(100, 1)}); // 8 + 104
        CHECK(qcow2::rewrite_header(h, ext, {std::string(280, 'f'), ""}, 0));
        CHECK_FALSE(qcow2::rewrite_header(h, ext, {std::string(281, 'f'), ""}, 0));
    }
    SUBCASE("dropping the name makes room")
    {
        qcow2::Extensions ext;
        ext.all.push_back({unknown_a, std::vector<uint8_t>(384, 1)}); // fills the cluster exactly
        auto out = qcow2::rewrite_header(h, ext, {"", "qcow2"}, 0);
        REQUIRE(out);
        CHECK(out->size() == 512u);
        CHECK(types(parse(*out).ext) == std::vector<uint32_t>{unknown_a});
        CHECK_FALSE(qcow2::rewrite_header(h, ext, {"a", ""}, 0));
    }
}

TEST_CASE("header_bytes_used: fixed fields, extensions, end marker, and the name wherever it is")
{
    test::BuilderOptions o = with_extensions(3);
    const uint64_t extensions_end = 112 + 16 + 104 + 24; // A, feature names, B
    SUBCASE("no backing file")
    {
        Source s(o);
        CHECK(s.used == extensions_end + 8);
    }
    SUBCASE("a name right after the end marker")
    {
        o.backing_name = "base";
        o.backing_format = "raw";
        Source s(o);
        CHECK(s.used == extensions_end + 16 + 8 + 4);
    }
    SUBCASE("a name further on")
    {
        Source s(o);
        qcow2::Header h = s.parsed.header;
        h.backing_file_offset = 2000;
        h.backing_file_size = 10;
        CHECK(qcow2::header_bytes_used(h, s.parsed.ext) == 2010u);
        h.backing_file_offset = 120; // inside the extensions: they still count
        CHECK(qcow2::header_bytes_used(h, s.parsed.ext) == extensions_end + 8);
    }
    SUBCASE("version 2")
    {
        Source s(with_extensions(2));
        CHECK(s.used == extensions_end - 40 + 8);
    }
    SUBCASE("never more than the cluster")
    {
        Source s(o);
        qcow2::Extensions ext;
        ext.all.push_back({unknown_a, std::vector<uint8_t>(70000, 0)});
        CHECK(qcow2::header_bytes_used(s.parsed.header, ext) == 65536u);
        qcow2::Header h = s.parsed.header;
        h.backing_file_offset = 65000;
        h.backing_file_size = 1000;
        CHECK(qcow2::header_bytes_used(h, s.parsed.ext) == 65536u);
    }
}
