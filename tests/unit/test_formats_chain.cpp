#include "fixtures/doctest_printers.hpp"
#include "fixtures/qcow2_builder.hpp"
#include "fixtures/temp_dir.hpp"
#include "formats/chain.hpp"
#include "io/file_device.hpp"
#include "qcow2/extensions.hpp"
#include "qcow2/l2_entry.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>

#include <vector>

using namespace imgmend;
using formats::Chain;
using formats::OpenOptions;
using util::Errc;
using util::Result;

namespace {

std::vector<uint8_t> base_pattern(size_t n)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(0x80 | (i / 4096 % 64));
    return v;
}

void write_qcow2(const std::string& path, test::BuilderOptions options,
                 const std::vector<std::pair<uint64_t, uint8_t>>& clusters = {})
{
    test::Qcow2Builder b(std::move(options));
    for (auto [c, fill] : clusters)
        b.write_cluster(c, fill);
    test::write_file(path, b.bytes());
}

std::vector<uint8_t> read_chain(Chain& chain, uint64_t offset, size_t length)
{
    std::vector<uint8_t> out(length, 0xee);
    auto r = chain.read(offset, out);
    REQUIRE(r);
    return out;
}

Result<Chain> open(const std::string& path, OpenOptions options = {})
{
    return Chain::open(path, options);
}

} // namespace

TEST_CASE("resolve_backing_path resolves relative names against the overlay's folder")
{
    struct Row {
        const char* overlay;
        const char* backing;
        const char* expected;
    };
    const Row rows[] = {
        {"/images/top.qcow2", "base.qcow2", "/images/base.qcow2"},
        {"/images/top.qcow2", "/abs/base.qcow2", "/abs/base.qcow2"},
        {"top.qcow2", "base.qcow2", "base.qcow2"},
        {"a/b/top.qcow2", "../c/base.raw", "a/b/../c/base.raw"},
        {"/top.qcow2", "base", "/base"},
        {"dir/", "base", "dir/base"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.overlay);
        CHECK(formats::resolve_backing_path(r.overlay, r.backing) == r.expected);
    }
}

TEST_CASE("Chain reads through a three-image chain")
{
    test::TempDir dir;
    auto base = base_pattern(1 << 20);
    test::write_file(dir.file("base.raw"), base);
    {
        test::Qcow2Builder mid({.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.raw", .backing_format = "raw"});
        mid.write_cluster(1, 0x22);
        mid.set_l2_entry(2, qcow2::oflag_zero); // zeros hide the base
        test::write_file(dir.file("mid.qcow2"), mid.bytes());
    }
    // No backing format: the backing file is probed.
    write_qcow2(dir.file("top.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "mid.qcow2"},
                {{0, 0x11}});

    auto chain = open(dir.file("top.qcow2"));
    REQUIRE(chain);
    REQUIRE(chain->depth() == 3);
    CHECK(chain->size() == 1 << 20);
    CHECK(chain->top().format() == "qcow2");
    CHECK(chain->layer(1).format() == "qcow2");
    CHECK(chain->layer(2).format() == "raw");
    CHECK(chain->layer(2).filename() == dir.file("base.raw"));

    auto got = read_chain(*chain, 0, 5 * 4096);
    CHECK(std::all_of(got.begin(), got.begin() + 4096, [](uint8_t b) { return b == 0x11; }));
    CHECK(std::all_of(got.begin() + 4096, got.begin() + 8192, [](uint8_t b) { return b == 0x22; }));
    CHECK(std::all_of(got.begin() + 8192, got.begin() + 12288, [](uint8_t b) { return b == 0; }));
    CHECK(std::equal(got.begin() + 12288, got.end(), base.begin() + 12288));

    auto top = chain->status(0, 1 << 20);
    REQUIRE(top);
    CHECK(top->depth == 0);
    CHECK(top->present);
    CHECK(top->data);
    CHECK(top->length == 4096);
    auto mid = chain->status(4096, 1 << 20);
    REQUIRE(mid);
    CHECK(mid->depth == 1);
    CHECK(mid->data);
    auto zero = chain->status(8192, 1 << 20);
    REQUIRE(zero);
    CHECK(zero->depth == 1);
    CHECK(zero->present);
    CHECK(zero->zero);
    CHECK_FALSE(zero->data);
    auto raw = chain->status(12288, 1 << 20);
    REQUIRE(raw);
    CHECK(raw->depth == 2);
    CHECK(raw->data);
    CHECK(raw->offset == 12288u);
    REQUIRE(raw->file);
    CHECK(raw->file->name() == dir.file("base.raw"));
}

TEST_CASE("Chain: a backing file shorter than the overlay reads as zeros past its end")
{
    test::TempDir dir;
    SUBCASE("raw backing of 10000 bytes")
    {
        auto base = base_pattern(10000);
        test::write_file(dir.file("base.raw"), base);
        write_qcow2(dir.file("top.qcow2"),
                    {.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.raw", .backing_format = "raw"});
        auto chain = open(dir.file("top.qcow2"));
        REQUIRE(chain);
        auto got = read_chain(*chain, 0, 20000);
        CHECK(std::equal(base.begin(), base.end(), got.begin()));
        CHECK(std::all_of(got.begin() + 10000, got.end(), [](uint8_t b) { return b == 0; }));
        auto past = chain->status(12288, 1 << 20);
        REQUIRE(past);
        CHECK_FALSE(past->present);
        CHECK(past->zero);
        CHECK(past->length == (1 << 20) - 12288);
    }
    SUBCASE("qcow2 backing of 64 KiB with data in its last cluster")
    {
        write_qcow2(dir.file("base.qcow2"), {.cluster_bits = 12, .size = 65536}, {{15, 0xbb}});
        write_qcow2(dir.file("top.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.qcow2"});
        auto chain = open(dir.file("top.qcow2"));
        REQUIRE(chain);
        auto got = read_chain(*chain, 60 * 1024, 8192);
        CHECK(std::all_of(got.begin(), got.begin() + 4096, [](uint8_t b) { return b == 0xbb; }));
        CHECK(std::all_of(got.begin() + 4096, got.end(), [](uint8_t b) { return b == 0; }));
    }
}

TEST_CASE("Chain refuses backing loops")
{
    test::TempDir dir;
    SUBCASE("a -> b -> a")
    {
        write_qcow2(dir.file("a.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "b.qcow2"});
        write_qcow2(dir.file("b.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "a.qcow2"});
    }
    SUBCASE("a -> a")
    {
        write_qcow2(dir.file("a.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "a.qcow2"});
    }
    SUBCASE("a -> a hard link")
    {
        write_qcow2(dir.file("a.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "link.qcow2"});
        REQUIRE(::link(dir.file("a.qcow2").c_str(), dir.file("link.qcow2").c_str()) == 0);
    }
    SUBCASE("a -> a through an absolute path")
    {
        write_qcow2(dir.file("a.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = dir.file("a.qcow2")});
    }
    auto chain = open(dir.file("a.qcow2"));
    REQUIRE_FALSE(chain);
    CHECK(chain.error().code == Errc::corrupt_metadata);
    CHECK(chain.error().message.find("loop") != std::string::npos);
}

TEST_CASE("Chain: a missing backing file is an error naming the file")
{
    test::TempDir dir;
    write_qcow2(dir.file("top.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "gone.qcow2"});
    auto chain = open(dir.file("top.qcow2"));
    REQUIRE_FALSE(chain);
    CHECK(chain.error().code == Errc::not_found);
    CHECK(chain.error().message.find(dir.file("gone.qcow2")) != std::string::npos);

    auto missing_top = open(dir.file("nothing.qcow2"));
    REQUIRE_FALSE(missing_top);
    CHECK(missing_top.error().code == Errc::not_found);
    CHECK(missing_top.error().message.find("nothing.qcow2") != std::string::npos);
}

TEST_CASE("Chain: a damaged backing file is an error naming the file")
{
    test::TempDir dir;
    test::Qcow2Builder base({.cluster_bits = 12, .size = 1 << 20});
    auto bytes = base.bytes();
    bytes[20 + 3] = 30; // cluster_bits 30
    test::write_file(dir.file("base.qcow2"), bytes);
    write_qcow2(dir.file("top.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.qcow2"});
    auto chain = open(dir.file("top.qcow2"));
    REQUIRE_FALSE(chain);
    CHECK(chain.error().message.find(dir.file("base.qcow2")) != std::string::npos);
}

TEST_CASE("Chain refuses an unknown backing format")
{
    test::TempDir dir;
    test::write_file(dir.file("base.vmdk"), std::vector<uint8_t>(4096, 0));
    write_qcow2(dir.file("top.qcow2"),
                {.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.vmdk", .backing_format = "vmdk"});
    auto chain = open(dir.file("top.qcow2"));
    REQUIRE_FALSE(chain);
    CHECK(chain.error().code == Errc::unsupported_feature);
    CHECK(chain.error().message.find("vmdk") != std::string::npos);
}

TEST_CASE("Chain honours the backing format instead of probing")
{
    test::TempDir dir;
    // A qcow2 file declared raw by its overlay is read as raw bytes.
    write_qcow2(dir.file("base.qcow2"), {.cluster_bits = 12, .size = 1 << 20}, {{0, 0x33}});
    write_qcow2(dir.file("top.qcow2"),
                {.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.qcow2", .backing_format = "raw"});
    auto chain = open(dir.file("top.qcow2"));
    REQUIRE(chain);
    CHECK(chain->layer(1).format() == "raw");
    auto head = read_chain(*chain, 0, 4);
    CHECK(head == std::vector<uint8_t>{'Q', 'F', 'I', 0xfb});
}

TEST_CASE("Chain::open options: forced format and skipping backing files")
{
    test::TempDir dir;
    test::write_file(dir.file("base.raw"), base_pattern(65536));
    write_qcow2(dir.file("top.qcow2"),
                {.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.raw", .backing_format = "raw"});
    SUBCASE("backing skipped")
    {
        OpenOptions o;
        o.backing = OpenOptions::Backing::skip;
        auto chain = open(dir.file("top.qcow2"), o);
        REQUIRE(chain);
        CHECK(chain->depth() == 1);
        auto got = read_chain(*chain, 0, 4096);
        CHECK(got == std::vector<uint8_t>(4096, 0));
    }
    SUBCASE("top opened as raw")
    {
        OpenOptions o;
        o.format = formats::Format::raw;
        auto chain = open(dir.file("top.qcow2"), o);
        REQUIRE(chain);
        CHECK(chain->depth() == 1);
        CHECK(chain->top().format() == "raw");
    }
    SUBCASE("top opened as qcow2 explicitly")
    {
        OpenOptions o;
        o.format = formats::Format::qcow2;
        auto chain = open(dir.file("base.raw"), o);
        REQUIRE_FALSE(chain);
        CHECK(chain.error().code == Errc::bad_magic);
    }
}

TEST_CASE("Chain::read beyond the end is refused")
{
    test::TempDir dir;
    write_qcow2(dir.file("top.qcow2"), {.cluster_bits = 12, .size = 8192}, {{1, 0x44}});
    auto chain = open(dir.file("top.qcow2"));
    REQUIRE(chain);
    std::vector<uint8_t> out(100);
    auto r = chain->read(8192, out);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    auto straddle = chain->read(8192 - 50, out);
    REQUIRE_FALSE(straddle);
    CHECK(straddle.error().code == Errc::invalid_argument);
}

TEST_CASE("Chain depth limit: 64 images deep")
{
    test::TempDir dir;
    auto name = [](int i) { return "img" + std::to_string(i) + ".qcow2"; };
    auto build = [&](int count) {
        for (int i = 0; i < count; ++i) {
            test::BuilderOptions o{.cluster_bits = 12, .size = 1 << 20};
            if (i + 1 < count)
                o.backing_name = name(i + 1);
            write_qcow2(dir.file(name(i)), o, {{static_cast<uint64_t>(i), static_cast<uint8_t>(i)}});
        }
    };
    SUBCASE("64 images open")
    {
        build(64);
        auto chain = open(dir.file(name(0)));
        REQUIRE(chain);
        CHECK(chain->depth() == 64);
        // Guest cluster i comes from image i.
        auto last = chain->status(63 * 4096, 4096);
        REQUIRE(last);
        CHECK(last->depth == 63);
        CHECK(read_chain(*chain, 63 * 4096, 1) == std::vector<uint8_t>{63});
    }
    SUBCASE("65 images are refused")
    {
        build(65);
        auto chain = open(dir.file(name(0)));
        REQUIRE_FALSE(chain);
        CHECK(chain.error().code == Errc::out_of_range);
    }
    SUBCASE("70 images are refused")
    {
        build(70);
        auto chain = open(dir.file(name(0)));
        REQUIRE_FALSE(chain);
        CHECK(chain.error().code == Errc::out_of_range);
    }
}

TEST_CASE("Chain::open honours image locks on every layer")
{
    test::TempDir dir;
    write_qcow2(dir.file("base.qcow2"), {.cluster_bits = 12, .size = 1 << 20});
    write_qcow2(dir.file("top.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "base.qcow2"});
    auto writer = io::FileDevice::open(dir.file("base.qcow2"), io::Access::read_write, io::LockMode::write);
    REQUIRE(writer);
    auto chain = open(dir.file("top.qcow2"));
    REQUIRE_FALSE(chain);
    CHECK(chain.error().code == Errc::in_use);
    CHECK(chain.error().message.find(dir.file("base.qcow2")) != std::string::npos);

    OpenOptions force;
    force.lock = io::LockMode::none;
    CHECK(open(dir.file("top.qcow2"), force));
}

TEST_CASE("Chain opens the external data file next to the image")
{
    test::TempDir dir;
    test::Qcow2Builder b({.cluster_bits = 12,
                          .size = 1 << 20,
                          .extra_incompatible = qcow2::incompat_data_file,
                          .extensions = {{qcow2::ext_data_file, {'d', 'a', 't', 'a', '.', 'r', 'a', 'w'}}}});
    uint64_t h = b.write_cluster(3, 0x11);
    test::write_file(dir.file("img.qcow2"), b.bytes());
    SUBCASE("present")
    {
        std::vector<uint8_t> data(h + 4096, 0);
        std::fill(data.begin() + static_cast<ptrdiff_t>(h), data.end(), 0x99);
        test::write_file(dir.file("data.raw"), data);
        auto chain = open(dir.file("img.qcow2"));
        REQUIRE(chain);
        CHECK(read_chain(*chain, 3 * 4096, 4096) == std::vector<uint8_t>(4096, 0x99));
        auto s = chain->status(3 * 4096, 4096);
        REQUIRE(s);
        REQUIRE(s->file);
        CHECK(s->file->name() == dir.file("data.raw"));
    }
    SUBCASE("missing")
    {
        auto chain = open(dir.file("img.qcow2"));
        REQUIRE_FALSE(chain);
        CHECK(chain.error().code == Errc::not_found);
        CHECK(chain.error().message.find(dir.file("data.raw")) != std::string::npos);
    }
}

TEST_CASE("open_layer opens one image without its backing file")
{
    test::TempDir dir;
    write_qcow2(dir.file("top.qcow2"), {.cluster_bits = 12, .size = 1 << 20, .backing_name = "absent.qcow2"});
    auto layer = formats::open_layer(dir.file("top.qcow2"), std::nullopt, io::LockMode::shared_read);
    REQUIRE(layer);
    CHECK((*layer)->format() == "qcow2");
    CHECK((*layer)->backing_name() == std::optional<std::string>("absent.qcow2"));
    auto raw = formats::open_layer(dir.file("top.qcow2"), formats::Format::raw, io::LockMode::shared_read);
    REQUIRE(raw);
    CHECK((*raw)->format() == "raw");
}
