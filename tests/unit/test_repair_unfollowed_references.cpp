#include "repair/unfollowed_references.hpp"

#include <doctest/doctest.h>

using namespace imgmend;
using repair::UnfollowedReferences;

TEST_CASE("UnfollowedReferences merges overlapping and adjacent ranges and answers coverage")
{
    UnfollowedReferences refs({{20, 20}, {10, 12}, {13, 14}, {11, 11}, {30, 40}});
    for (uint64_t c : {10, 12, 13, 14, 20, 30, 35, 40})
        CHECK(refs.covers(c));
    for (uint64_t c : {0, 9, 15, 19, 21, 29, 41, 1000})
        CHECK_FALSE(refs.covers(c));
    CHECK_FALSE(UnfollowedReferences({}).covers(0));
}

TEST_CASE("UnfollowedReferences::next_clear steps over references, within a bound")
{
    UnfollowedReferences refs({{10, 12}, {14, 14}, {20, 29}});
    CHECK(refs.next_clear(0, 5, 100) == 0);   // room before the first range
    CHECK(refs.next_clear(8, 2, 100) == 8);   // 8, 9
    CHECK(refs.next_clear(8, 3, 100) == 15);  // 13 alone is too short, 15..19 fits
    CHECK(refs.next_clear(10, 1, 100) == 13); // inside a range: just past it
    CHECK(refs.next_clear(15, 5, 100) == 15); // exactly up to the next range
    CHECK(refs.next_clear(15, 6, 100) == 30);
    CHECK(refs.next_clear(15, 6, 10) == std::nullopt); // 30 is 15 past 15
    CHECK(refs.next_clear(100, 1000, 0) == 100);
}

TEST_CASE("UnfollowedReferences: a reference that runs to the end of the address space blocks everything after")
{
    UnfollowedReferences refs({{50, UINT64_MAX}, {60, 70}, {5, 5}});
    CHECK(refs.covers(UINT64_MAX));
    CHECK(refs.covers(55));
    CHECK(refs.next_clear(0, 5, 1000) == 0);
    CHECK(refs.next_clear(3, 5, 1000) == 6);
    CHECK(refs.next_clear(40, 20, 1000) == std::nullopt);
    CHECK(refs.next_clear(50, 1, 1000) == std::nullopt);
}
