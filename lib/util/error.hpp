// Error values returned by every fallible library function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imgmend::util {

enum class Errc {
    io,                  // the operating system refused a read, write or lock
    truncated,           // a structure extends beyond the end of the file
    bad_magic,           // not the format we were told or probed
    unsupported_feature, // valid, but something we do not implement
    corrupt_metadata,    // a field holds a value the specification forbids
    out_of_range,        // a size or offset beyond a documented cap
    would_lose_data,     // refused because the operation could lose data
    invalid_argument,    // the caller asked for something impossible
    in_use,              // another process holds a conflicting lock
    not_found,           // a file (e.g. a backing file) does not exist
    no_space,            // no room to place a structure
};

std::string_view to_string(Errc code);

struct Error {
    Errc code;
    std::string message;
    std::optional<uint64_t> offset{};
};

} // namespace imgmend::util
