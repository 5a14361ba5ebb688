#include "batch/image_finder.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

namespace imgmend::tools {

namespace fs = std::filesystem;

namespace {

bool has_qcow2_magic(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::array<char, 4> magic{};
    return in.read(magic.data(), magic.size()) && magic == std::array<char, 4>{'Q', 'F', 'I', '\xfb'};
}

} // namespace

FoundImages find_qcow2_images(const std::vector<std::string>& paths)
{
    FoundImages found;
    for (const auto& p : paths) {
        std::error_code ec;
        // A path given on the command line is followed (the administrator
        // chose it); links found inside it are not.
        auto status = fs::status(p, ec);
        if (ec) {
            found.errors.push_back(fmt::format("{}: {}", p, ec.message()));
            continue;
        }
        // A file named on the command line was meant to be checked: if it is
        // not a qcow2 image, the command line is wrong. Inside a folder,
        // other files are expected and left alone.
        if (fs::is_regular_file(status)) {
            if (has_qcow2_magic(p))
                found.images.push_back(p);
            else
                found.errors.push_back(fmt::format("{}: not a qcow2 image", p));
            continue;
        }
        if (!fs::is_directory(status)) {
            found.errors.push_back(fmt::format("{}: not a regular file or a folder", p));
            continue;
        }
        size_t before = found.images.size();
        fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            auto s = it->symlink_status(ec);
            if (!ec && fs::is_regular_file(s) && has_qcow2_magic(it->path()))
                found.images.push_back(it->path().string());
        }
        if (ec)
            found.errors.push_back(fmt::format("{}: {}", p, ec.message()));
        else if (found.images.size() == before)
            found.warnings.push_back(fmt::format("{}: no qcow2 image in this folder", p));
    }
    std::sort(found.images.begin(), found.images.end());
    found.images.erase(std::unique(found.images.begin(), found.images.end()), found.images.end());
    return found;
}

} // namespace imgmend::tools
