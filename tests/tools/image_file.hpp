// Whole-file load and save for the crash-injection tools (crash_repair,
// crash_rebase), which work on an in-memory copy of an image; a failure is
// thrown as ImageFileError, which their main reports.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgmend::test {

struct ImageFileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline std::vector<uint8_t> load_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ImageFileError(fmt::format("cannot read '{}'", path));
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void save_file(const std::string& path, const std::vector<uint8_t>& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out)
        throw ImageFileError(fmt::format("cannot write '{}'", path));
}

} // namespace imgmend::test
