// The planned image (lib/repair/planned_view.cpp): reads see the plan's
// writes and discards over the real file; nothing is ever written.
#include "fixtures/doctest_printers.hpp"
#include "io/memory_device.hpp"
#include "repair/planned_view.hpp"

#include <doctest/doctest.h>

using namespace imgmend;

TEST_CASE("reads see writes in plan order, discards as zeros, growth past the end")
{
    io::MemoryDevice base(std::vector<uint8_t>(4096, 0x11));
    io::Plan plan;
    plan.write(100, std::vector<uint8_t>(10, 0x22), "a");
    plan.flush("f");
    plan.write(105, std::vector<uint8_t>(10, 0x33), "b (overlaps a)");
    plan.discard(1024, 512, "c");
    plan.write(4096 + 512, std::vector<uint8_t>(8, 0x44), "past the end");
    repair::PlannedView view(base, plan);
    CHECK(view.size() == 4096 + 520);

    std::vector<uint8_t> got(view.size());
    REQUIRE(view.read(0, got));
    std::vector<uint8_t> want(4096, 0x11);
    want.resize(4096 + 520, 0);
    std::fill(want.begin() + 100, want.begin() + 110, 0x22);
    std::fill(want.begin() + 105, want.begin() + 115, 0x33);
    std::fill(want.begin() + 1024, want.begin() + 1536, 0);
    std::fill(want.begin() + 4096 + 512, want.end(), 0x44);
    CHECK(got == want);

    // Every sub-range agrees with the whole.
    for (uint64_t at : {0, 99, 104, 110, 1023, 1535, 4095, 4600}) {
        std::vector<uint8_t> part(std::min<uint64_t>(17, view.size() - at));
        REQUIRE(view.read(at, part));
        CHECK(std::equal(part.begin(), part.end(), want.begin() + static_cast<ptrdiff_t>(at)));
    }
    std::vector<uint8_t> beyond(1);
    CHECK_FALSE(view.read(view.size(), beyond));

    CHECK_FALSE(view.write(0, got));
    CHECK_FALSE(view.discard(0, 1));
    CHECK(base.writes().empty());
    CHECK(base.bytes() == std::vector<uint8_t>(4096, 0x11));
}

TEST_CASE("allocation runs stop where a planned step starts")
{
    io::MemoryDevice base(std::vector<uint8_t>(8192, 0));
    io::Plan plan;
    plan.write(4096, std::vector<uint8_t>(512, 1), "w");
    repair::PlannedView view(base, plan);
    auto first = view.allocation_at(0);
    REQUIRE(first);
    CHECK(first->length == 4096);
    auto inside = view.allocation_at(4096 + 100);
    REQUIRE(inside);
    CHECK(inside->state == io::Allocation::data);
    CHECK(inside->length == 412);
}
