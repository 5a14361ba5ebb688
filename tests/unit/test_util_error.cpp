#include "util/error.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace imgmend::util;

TEST_CASE("to_string names every error code by its enumerator")
{
    // These names appear in JSON output, so they are part of the interface.
    struct Row {
        Errc code;
        const char* name;
    };
    const Row rows[] = {
        {Errc::io, "io"},
        {Errc::truncated, "truncated"},
        {Errc::bad_magic, "bad_magic"},
        {Errc::unsupported_feature, "unsupported_feature"},
        {Errc::corrupt_metadata, "corrupt_metadata"},
        {Errc::out_of_range, "out_of_range"},
        {Errc::would_lose_data, "would_lose_data"},
        {Errc::invalid_argument, "invalid_argument"},
        {Errc::in_use, "in_use"},
        {Errc::not_found, "not_found"},
        {Errc::no_space, "no_space"},
    };
    std::set<std::string> seen;
    for (const Row& r : rows) {
        CHECK(to_string(r.code) == r.name);
        seen.insert(std::string(to_string(r.code)));
    }
    CHECK(seen.size() == std::size(rows));
}

TEST_CASE("to_string of a value outside the enum is 'unknown'")
{
    CHECK(to_string(static_cast<Errc>(999)) == "unknown");
}

TEST_CASE("Error carries an optional offset")
{
    Error e{Errc::truncated, "L1 table at 0x50000 extends beyond end of file"};
    CHECK_FALSE(e.offset.has_value());
    Error f{Errc::truncated, "x", 0x50000};
    REQUIRE(f.offset.has_value());
    CHECK(*f.offset == 0x50000u);
}
