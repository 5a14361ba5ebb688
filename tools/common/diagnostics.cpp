#include "common/diagnostics.hpp"

#include "common/exit_code.hpp"

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

int fail_with(std::string_view tool, std::string_view message)
{
    print_error(tool, message);
    return to_int(ExitCode::failed);
}

int usage_error(std::string_view tool, std::string_view message)
{
    print_error(tool, message);
    return to_int(ExitCode::usage);
}

} // namespace imgmend::tools
