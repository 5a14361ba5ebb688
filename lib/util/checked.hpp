// Checked arithmetic on image-controlled 64-bit values. Overflow is the
// classic image-parser bug, so every sum or product of on-disk fields goes
// through these helpers.
#pragma once

#include <cstdint>
#include <optional>

namespace imgmend::util {

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return std::nullopt;
    return r;
}

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return std::nullopt;
    return r;
}

// Does [offset, offset + length) fit inside [0, limit)?
inline bool range_within(uint64_t offset, uint64_t length, uint64_t limit)
{
    auto end = checked_add(offset, length);
    return end && *end <= limit;
}

inline uint64_t align_down(uint64_t value, uint64_t alignment)
{
    return value - value % alignment;
}

// Round up; nullopt when the result would not fit in 64 bits.
inline std::optional<uint64_t> align_up(uint64_t value, uint64_t alignment)
{
    uint64_t rem = value % alignment;
    if (rem == 0)
        return value;
    return checked_add(value, alignment - rem);
}

inline uint64_t div_round_up(uint64_t value, uint64_t divisor)
{
    return value / divisor + (value % divisor != 0);
}

} // namespace imgmend::util
