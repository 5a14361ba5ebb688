// The one place tools print errors: "imgmend-map: error: <message>".
#pragma once

#include "util/error.hpp"

#include <string_view>

namespace imgmend::tools {

void print_error(std::string_view tool, std::string_view message);
void print_error(std::string_view tool, const util::Error& error);
void print_warning(std::string_view tool, std::string_view message);
// Prints the error and returns the exit code for a failed run (1).
int fail_with(std::string_view tool, std::string_view message);
// Prints the error and returns the exit code for a bad command line.
int usage_error(std::string_view tool, std::string_view message);

} // namespace imgmend::tools
