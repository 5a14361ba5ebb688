#include "util/result.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>

using namespace imgmend::util;

namespace {

Result<int> parse_positive(int v)
{
    if (v <= 0)
        return fail(Errc::invalid_argument, "value {} is not positive", v);
    return v;
}

Result<int> doubled(int v)
{
    int x = TRY(parse_positive(v));
    return 2 * x;
}

Result<void> check_even(int v)
{
    if (v % 2 != 0)
        return fail(Errc::corrupt_metadata, "{} is odd", v);
    return {};
}

int g_steps = 0;

Result<int> void_chain(int v)
{
    g_steps = 0;
    TRY(check_even(v));
    ++g_steps;
    TRY(check_even(v / 2));
    ++g_steps;
    return v / 4;
}

Result<void> forward_offset()
{
    TRY(Result<int>(Error{Errc::truncated, "table at 0x200", 0x200}));
    return {};
}

int g_calls = 0;
Result<int> counted(int v)
{
    ++g_calls;
    return v;
}

Result<int> use_counted()
{
    return TRY(counted(5)) + 1;
}

Result<std::unique_ptr<int>> make_ptr(bool ok)
{
    if (!ok)
        return fail(Errc::io, "no pointer");
    return std::make_unique<int>(42);
}

Result<int> deref(bool ok)
{
    std::unique_ptr<int> p = TRY(make_ptr(ok));
    return *p;
}

} // namespace

TEST_CASE("Result holds a value")
{
    Result<std::string> r(std::string("abc"));
    REQUIRE(r.has_value());
    CHECK(bool(r));
    CHECK(*r == "abc");
    CHECK(r->size() == 3);
    r.value() += "d";
    CHECK(r.value() == "abcd");
    std::string moved = std::move(r).value();
    CHECK(moved == "abcd");
}

TEST_CASE("fail formats the message and leaves the offset empty")
{
    Result<int> r = fail(Errc::truncated, "L1 table at {:#x} extends beyond end of file", 0x50000);
    REQUIRE_FALSE(r.has_value());
    CHECK_FALSE(bool(r));
    CHECK(r.error().code == Errc::truncated);
    CHECK(r.error().message == "L1 table at 0x50000 extends beyond end of file");
    CHECK_FALSE(r.error().offset.has_value());
}

TEST_CASE("Result constructed from an Error keeps every field")
{
    Result<int> r(Error{Errc::corrupt_metadata, "bad", 0x1234});
    REQUIRE_FALSE(r);
    Error e = std::move(r).error();
    CHECK(e.code == Errc::corrupt_metadata);
    CHECK(e.message == "bad");
    CHECK(e.offset == 0x1234u);
}

TEST_CASE("Result<void> success and failure")
{
    Result<void> ok;
    CHECK(ok.has_value());
    CHECK(bool(ok));
    Result<void> bad = fail(Errc::in_use, "locked by {}", "qemu");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == Errc::in_use);
    CHECK(bad.error().message == "locked by qemu");
}

TEST_CASE("TRY unwraps a value or returns the error unchanged")
{
    auto good = doubled(21);
    REQUIRE(good);
    CHECK(*good == 42);

    auto bad = doubled(-3);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::invalid_argument);
    CHECK(bad.error().message == "value -3 is not positive");
}

TEST_CASE("TRY on Result<void> continues on success and stops at the first error")
{
    auto all = void_chain(8);
    REQUIRE(all);
    CHECK(*all == 2);
    CHECK(g_steps == 2);

    auto second = void_chain(6); // 6 is even, 3 is odd
    REQUIRE_FALSE(second);
    CHECK(g_steps == 1);
    CHECK(second.error().message == "3 is odd");

    auto first = void_chain(7);
    REQUIRE_FALSE(first);
    CHECK(g_steps == 0);
    CHECK(first.error().message == "7 is odd");
}

TEST_CASE("TRY forwards the error offset and converts between Result types")
{
    auto r = forward_offset();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::truncated);
    CHECK(r.error().offset == 0x200u);
}

TEST_CASE("TRY evaluates its expression exactly once")
{
    g_calls = 0;
    auto r = use_counted();
    REQUIRE(r);
    CHECK(*r == 6);
    CHECK(g_calls == 1);
}

TEST_CASE("TRY works with move-only values")
{
    auto ok = deref(true);
    REQUIRE(ok);
    CHECK(*ok == 42);
    auto bad = deref(false);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::io);
}
