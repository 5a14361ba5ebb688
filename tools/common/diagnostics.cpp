#include "common/diagnostics.hpp"

#include <fmt/format.h>

namespace imgmend::tools {

void print_error(std::string_view tool, std::string_view message)
{
    fmt::print(stderr, "{}: error: {}\n", tool, message);
}

void print_error(std::string_view tool, const util::Error& error) { print_error(tool, error.message); }

void print_warning(std::string_view tool, std::string_view message)
{
    fmt::print(stderr, "{}: warning: {}\n", tool, message);
}

} // namespace imgmend::tools
