// Finds the qcow2 images under some paths for a batch check: regular files
// whose first bytes are the qcow2 magic, in sorted order. As find -H: a path
// given is followed when it is a symlink; symlinks inside a folder are never
// followed (neither to files nor to folders), so a batch stays inside the
// trees it was given.
#pragma once

#include <string>
#include <vector>

namespace imgmend::tools {

struct FoundImages {
    std::vector<std::string> images;
    std::vector<std::string> errors;   // unreadable paths and named files that are not qcow2
    std::vector<std::string> warnings; // folders without any qcow2 image
};

FoundImages find_qcow2_images(const std::vector<std::string>& paths);

} // namespace imgmend::tools
