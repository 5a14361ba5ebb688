#include "util/error.hpp"

namespace imgmend::util {

std::string_view to_string(Errc code)
{
    switch (code) {
    case Errc::io: return "io";
    case Errc::truncated: return "truncated";
    case Errc::bad_magic: return "bad_magic";
    case Errc::unsupported_feature: return "unsupported_feature";
    case Errc::corrupt_metadata: return "corrupt_metadata";
    case Errc::out_of_range: return "out_of_range";
    case Errc::would_lose_data: return "would_lose_data";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::in_use: return "in_use";
    case Errc::not_found: return "not_found";
    case Errc::no_space: return "no_space";
    }
    return "unknown";
}

} // namespace imgmend::util
