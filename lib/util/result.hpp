// Result<T>: a minimal std::expected<T, Error> with std::expected's member
// names, so moving to C++23 is a rename. TRY(expr) unwraps or returns.
#pragma once

#include "util/error.hpp"

#include <cassert>
#include <fmt/format.h>
#include <utility>
#include <variant>

namespace imgmend::util {

struct Unexpected {
    Error error;
};

// Build an error result: `return fail(Errc::truncated, "L1 table at {:#x} ...", off);`
template <typename... Args>
Unexpected fail(Errc code, fmt::format_string<Args...> format, Args&&... args)
{
    return Unexpected{Error{code, fmt::format(format, std::forward<Args>(args)...), {}}};
}

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Unexpected u) : state_(std::in_place_index<1>, std::move(u.error)) {}
    Result(Error e) : state_(std::in_place_index<1>, std::move(e)) {}

    bool has_value() const { return state_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() &
    {
        assert(has_value());
        return std::get<0>(state_);
    }
    const T& value() const&
    {
        assert(has_value());
        return std::get<0>(state_);
    }
    T&& value() &&
    {
        assert(has_value());
        return std::get<0>(std::move(state_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const&
    {
        assert(!has_value());
        return std::get<1>(state_);
    }
    Error&& error() &&
    {
        assert(!has_value());
        return std::get<1>(std::move(state_));
    }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Unexpected u) : error_(std::move(u.error)), failed_(true) {}
    Result(Error e) : error_(std::move(e)), failed_(true) {}

    bool has_value() const { return !failed_; }
    explicit operator bool() const { return has_value(); }
    void value() const { assert(has_value()); }
    const Error& error() const&
    {
        assert(failed_);
        return error_;
    }
    Error&& error() &&
    {
        assert(failed_);
        return std::move(error_);
    }

private:
    Error error_{Errc::io, {}, {}};
    bool failed_ = false;
};

} // namespace imgmend::util

// Unwrap a Result or return its error from the enclosing function.
// Uses a GNU statement expression (g++ and clang both accept it).
#define TRY(expr)                                                          \
    ({                                                                     \
        auto _try_result = (expr);                                         \
        if (!_try_result.has_value())                                      \
            return ::imgmend::util::Unexpected{std::move(_try_result).error()}; \
        std::move(_try_result).value();                                    \
    })
