#include "map/joint.hpp"

#include <doctest/doctest.h>

using namespace imgmend;
using map::MapEntry;

TEST_CASE("joint_flags combine allocation and where the range is allocated")
{
    struct Row {
        const char* name;
        int depth;
        bool present, data, zero;
        unsigned expected;
        const char* words;
    };
    const Row rows[] = {
        {"local data", 0, true, true, false, map::joint_local, "local"},
        {"backing data", 2, true, true, false, map::joint_backing, "backing"},
        {"local zero", 0, true, false, true, map::joint_hole | map::joint_zero | map::joint_local, "hole,zero,local"},
        {"backing zero", 1, true, false, true, map::joint_hole | map::joint_zero | map::joint_backing,
         "hole,zero,backing"},
        {"unallocated everywhere", 0, false, false, true, map::joint_hole | map::joint_zero, "hole,zero"},
        {"preallocated data reading zero", 0, true, true, true, map::joint_zero | map::joint_local, "zero,local"},
        {"neither data nor zero, not present", 3, false, false, false, map::joint_hole, "hole"},
    };
    for (const Row& r : rows) {
        INFO(std::string(r.name));
        MapEntry e;
        e.depth = r.depth;
        e.present = r.present;
        e.data = r.data;
        e.zero = r.zero;
        unsigned f = map::joint_flags(e);
        CHECK(f == r.expected);
        CHECK(map::joint_words(f) == r.words);
    }
}

TEST_CASE("joint_words lists flags in a fixed order and ignores unknown bits")
{
    CHECK(map::joint_words(0) == "data");
    CHECK(map::joint_words(map::joint_backing | map::joint_hole) == "hole,backing");
    CHECK(map::joint_words(map::joint_hole | map::joint_zero | map::joint_local | map::joint_backing) ==
          "hole,zero,local,backing");
    CHECK(map::joint_words(16) == "data");
    CHECK(map::joint_words(16 | map::joint_zero) == "zero");
    // The four flags are distinct bits.
    CHECK((map::joint_hole & map::joint_zero) == 0);
    CHECK((map::joint_local & map::joint_backing) == 0);
}
