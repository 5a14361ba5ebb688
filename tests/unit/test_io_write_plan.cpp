#include "fixtures/doctest_printers.hpp"
#include "io/memory_device.hpp"
#include "io/write_plan.hpp"
#include "util/cursor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <vector>

using namespace imgmend;
using util::Errc;

namespace {

std::vector<uint8_t> counting(size_t n, uint8_t start = 0)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(start + i);
    return v;
}

std::vector<uint8_t> filled(size_t n, uint8_t value) { return std::vector<uint8_t>(n, value); }

// A plan touching the middle, growing the device, and discarding a range.
io::Plan sample_plan()
{
    io::Plan plan;
    plan.write(16, filled(8, 0xaa), "middle");
    plan.flush("after middle");
    plan.write(60, filled(12, 0xbb), "grows the device");
    plan.flush("after growth");
    plan.discard(32, 8, "free");
    return plan;
}

} // namespace

TEST_CASE("Plan records steps in order and collapses repeated flushes")
{
    io::Plan plan;
    CHECK(plan.empty());
    plan.flush("leading");
    plan.flush("again"); // a flush right after a flush adds nothing
    plan.write(8, filled(4, 1), "a");
    plan.write(100, filled(10, 2), "b");
    plan.flush("x");
    plan.flush("y");
    plan.discard(0, 4, "d");
    REQUIRE(plan.steps().size() == 5);
    CHECK(plan.steps()[0].kind == io::Step::Kind::flush);
    CHECK(plan.steps()[1].what == "a");
    CHECK(plan.steps()[2].offset == 100u);
    CHECK(plan.steps()[3].kind == io::Step::Kind::flush);
    CHECK(plan.steps()[3].what == "x");
    CHECK(plan.steps()[4].kind == io::Step::Kind::discard);
    CHECK(plan.steps()[4].length == 4u);
    CHECK(plan.writes() == 2);
    CHECK_FALSE(plan.empty());
}

TEST_CASE("Plan::final_size is the end of the furthest write, never smaller")
{
    io::Plan plan = sample_plan();
    CHECK(plan.final_size(64) == 72u);
    CHECK(plan.final_size(1000) == 1000u);
    CHECK(io::Plan{}.final_size(5) == 5u);
}

TEST_CASE("execute runs every step in order and ends with a flush")
{
    io::MemoryDevice dev(counting(64));
    REQUIRE(io::execute(sample_plan(), dev, nullptr));
    const auto& b = dev.bytes();
    REQUIRE(b.size() == 72);
    CHECK(b[15] == 15);
    CHECK(b[16] == 0xaa);
    CHECK(b[23] == 0xaa);
    CHECK(b[24] == 24);
    CHECK(b[31] == 31);
    CHECK(b[32] == 0); // discarded
    CHECK(b[39] == 0);
    CHECK(b[40] == 40);
    CHECK(b[60] == 0xbb);
    CHECK(b[71] == 0xbb);
    CHECK(dev.flushed_bytes() == b);
    REQUIRE(dev.writes().size() == 3);
    CHECK(dev.writes()[0].offset == 16u);
    CHECK(dev.writes()[1].offset == 60u);
    CHECK(dev.writes()[2].offset == 32u);
}

TEST_CASE("execute: flush steps order what survives a power cut")
{
    // write A, flush, write B. A crash right after write N also fails the
    // flush that follows it: A is durable only once B was written (N = 2),
    // B only when nothing crashed (N = 3, beyond the plan).
    io::Plan plan;
    plan.write(0, filled(4, 0xa1), "A");
    plan.flush("A durable");
    plan.write(8, filled(4, 0xb2), "B");
    for (size_t n = 0; n <= 3; ++n) {
        CAPTURE(n);
        io::MemoryDevice dev(filled(16, 0));
        dev.crash_after_write(n);
        auto r = io::execute(plan, dev, nullptr);
        CHECK(bool(r) == (n == 3)); // even at n == 2 the final flush fails
        if (!r)
            CHECK(r.error().code == Errc::io);
        CHECK(dev.writes().size() == std::min<size_t>(n, 2));
        const auto& durable = dev.flushed_bytes();
        CHECK(durable[0] == (n >= 2 ? 0xa1 : 0));
        CHECK(durable[8] == (n >= 3 ? 0xb2 : 0));
        CHECK(dev.bytes()[0] == (n >= 1 ? 0xa1 : 0));
        CHECK(dev.bytes()[8] == (n >= 2 ? 0xb2 : 0));
    }
}

TEST_CASE("execute stops at the first failing write")
{
    io::MemoryDevice dev(filled(32, 0));
    dev.fail_write(1);
    auto r = io::execute(sample_plan(), dev, nullptr);
    REQUIRE_FALSE(r);
    CHECK(dev.writes().size() == 1);
    CHECK(dev.bytes()[16] == 0xaa);
    CHECK(dev.bytes().size() == 32); // the growing write never happened
    CHECK(dev.flushed_bytes()[16] == 0xaa); // the flush before it did
}

TEST_CASE("execute with an undo device saves the old bytes first, and apply_undo restores them")
{
    const auto original = counting(64, 7);
    io::MemoryDevice image(original);
    io::MemoryDevice undo;
    REQUIRE(io::execute(sample_plan(), image, &undo));
    REQUIRE(image.bytes().size() == 72);
    CHECK(image.bytes() != original);

    // The undo file: magic, original size, one record per write or discard,
    // completed, planned and final size.
    const auto& u = undo.bytes();
    REQUIRE(u.size() >= 64);
    CHECK(std::memcmp(u.data(), "imgmend-undo-v2\n", 16) == 0);
    CHECK(util::load_be64(u, 16) == 64u);
    CHECK(util::load_be64(u, 24) == 3u);
    CHECK(util::load_be64(u, 32) == 1u);
    CHECK(util::load_be64(u, 40) == 72u);
    CHECK(util::load_be64(u, 48) == 72u);
    CHECK(undo.flushed_bytes() == u); // durable once the repair completed
    // Record 0: offset 16, 8 old bytes, a write.
    CHECK(util::load_be64(u, 64) == 16u);
    CHECK(util::load_be64(u, 72) == 8u);
    CHECK(util::load_be64(u, 80) == 1u);
    CHECK(u[104] == original[16]);

    REQUIRE(io::apply_undo(undo, image));
    CHECK(image.bytes() == original); // size included
    CHECK(image.flushed_bytes() == original);
}

TEST_CASE("the undo file is complete and durable before the first write to the image")
{
    const auto original = counting(64, 3);
    io::MemoryDevice image(original);
    image.crash_after_write(0);
    io::MemoryDevice undo;
    REQUIRE_FALSE(io::execute(sample_plan(), image, &undo));
    CHECK(image.writes().empty());
    CHECK(undo.flushed_bytes() == undo.bytes());
    // Crashes at every later write: the undo file restores the original.
    for (size_t n = 1; n <= 3; ++n) {
        CAPTURE(n);
        io::MemoryDevice img(original);
        img.crash_after_write(n);
        io::MemoryDevice u;
        REQUIRE_FALSE(io::execute(sample_plan(), img, &u));
        io::MemoryDevice after(img.bytes());
        REQUIRE(io::apply_undo(u, after));
        CHECK(after.bytes() == original);
    }
}

TEST_CASE("overlapping writes are undone to the original bytes")
{
    io::Plan plan;
    plan.write(4, filled(4, 1), "first");
    plan.write(6, filled(4, 2), "second, overlapping");
    const auto original = filled(16, 9);
    io::MemoryDevice image(original);
    io::MemoryDevice undo;
    REQUIRE(io::execute(plan, image, &undo));
    CHECK(image.bytes()[4] == 1);
    CHECK(image.bytes()[6] == 2);
    REQUIRE(io::apply_undo(undo, image));
    CHECK(image.bytes() == original);
}

TEST_CASE("apply_undo refuses what is not a complete undo file, before writing anything")
{
    const auto original = counting(64);
    io::MemoryDevice image(original);
    io::MemoryDevice undo;
    REQUIRE(io::execute(sample_plan(), image, &undo));
    const auto repaired = image.bytes();

    SUBCASE("not an undo file")
    {
        io::MemoryDevice bogus(filled(64, 'x'), "bogus");
        auto r = io::apply_undo(bogus, image);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::bad_magic);
        CHECK(r.error().message.find("bogus") != std::string::npos);
    }
    SUBCASE("shorter than its header")
    {
        io::MemoryDevice tiny(filled(10, 0));
        auto r = io::apply_undo(tiny, image);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::bad_magic);
    }
    SUBCASE("truncated at every length inside the records")
    {
        for (size_t len = 64; len < undo.bytes().size(); ++len) {
            CAPTURE(len);
            io::MemoryDevice cut(std::vector<uint8_t>(undo.bytes().begin(), undo.bytes().begin() + static_cast<ptrdiff_t>(len)));
            auto r = io::apply_undo(cut, image);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == Errc::truncated);
        }
    }
    SUBCASE("a record count far beyond the file")
    {
        auto bytes = undo.bytes();
        util::store_be64(bytes, 24, ~uint64_t{0});
        io::MemoryDevice huge(bytes);
        auto r = io::apply_undo(huge, image);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::truncated);
    }
    CHECK(image.bytes() == repaired);
}

TEST_CASE("apply_undo on a device that cannot be resized restores the bytes and keeps the size")
{
    const auto original = counting(64);
    io::MemoryDevice image(original);
    io::MemoryDevice undo;
    io::Plan plan;
    plan.write(8, filled(8, 0xee), "in place");
    REQUIRE(io::execute(plan, image, &undo));
    image.set_resizable(false);
    REQUIRE(io::apply_undo(undo, image));
    CHECK(image.bytes() == original);
}

TEST_CASE("an empty plan writes nothing but still flushes")
{
    io::MemoryDevice dev(counting(16));
    io::MemoryDevice undo;
    REQUIRE(io::execute(io::Plan{}, dev, &undo));
    CHECK(dev.writes().empty());
    CHECK(util::load_be64(undo.bytes(), 24) == 0u);
    REQUIRE(io::apply_undo(undo, dev));
    CHECK(dev.bytes() == counting(16));
}

TEST_CASE("apply_undo refuses an image other than the one the repair left, writing nothing")
{
    const auto original = counting(64, 5);
    io::MemoryDevice image(original);
    io::MemoryDevice undo;
    REQUIRE(io::execute(sample_plan(), image, &undo));
    const auto repaired = image.bytes();

    SUBCASE("another image of the same size")
    {
        io::MemoryDevice other(counting(72, 9), "other");
        const auto before = other.bytes();
        auto r = io::apply_undo(undo, other);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::invalid_argument);
        CHECK(r.error().message.find("other") != std::string::npos);
        CHECK(other.bytes() == before);
    }
    SUBCASE("another image of another size")
    {
        io::MemoryDevice other(counting(4096, 1));
        const auto before = other.bytes();
        REQUIRE_FALSE(io::apply_undo(undo, other));
        CHECK(other.bytes() == before);
    }
    SUBCASE("the image, written to since the repair where the repair wrote")
    {
        io::MemoryDevice changed(repaired);
        REQUIRE(changed.write(18, filled(1, 0x01)));
        const auto before = changed.bytes();
        auto r = io::apply_undo(undo, changed);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("0x10") != std::string::npos); // the region at offset 16
        CHECK(changed.bytes() == before);
    }
    SUBCASE("the image, written to since the repair elsewhere in its first MiB")
    {
        io::MemoryDevice changed(repaired);
        REQUIRE(changed.write(2, filled(1, 0x01)));
        const auto before = changed.bytes();
        auto r = io::apply_undo(undo, changed);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("first MiB") != std::string::npos);
        CHECK(changed.bytes() == before);
    }
    SUBCASE("the image, grown since the repair")
    {
        io::MemoryDevice grown(repaired);
        REQUIRE(grown.write(100, filled(4, 0x01)));
        const auto before = grown.bytes();
        REQUIRE_FALSE(io::apply_undo(undo, grown));
        CHECK(grown.bytes() == before);
    }
    SUBCASE("an undo file of the older format")
    {
        auto old = undo.bytes();
        std::memcpy(old.data(), "imgmend-undo-v1\n", 16);
        io::MemoryDevice v1(old);
        io::MemoryDevice img(repaired);
        auto r = io::apply_undo(v1, img);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::unsupported_feature);
        CHECK(img.bytes() == repaired);
    }
}

TEST_CASE("after an interrupted repair, apply_undo still restores, but only that image")
{
    const auto original = counting(64, 3);
    for (size_t n = 1; n <= 3; ++n) {
        CAPTURE(n);
        io::MemoryDevice img(original);
        img.crash_after_write(n);
        io::MemoryDevice u;
        REQUIRE_FALSE(io::execute(sample_plan(), img, &u));
        CHECK(util::load_be64(u.bytes(), 32) == 0u); // not completed
        io::MemoryDevice after(img.bytes());
        REQUIRE(io::apply_undo(u, after));
        CHECK(after.bytes() == original);
        io::MemoryDevice other(counting(64, 11));
        const auto before = other.bytes();
        REQUIRE_FALSE(io::apply_undo(u, other));
        CHECK(other.bytes() == before);
    }
}
