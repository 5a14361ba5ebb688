// Format probing: the qcow2 magic, else raw (as qemu-img probes).
#pragma once

#include "io/block_device.hpp"

#include <string>

namespace imgmend::formats {

enum class Format { raw, qcow2 };

util::Result<Format> probe_format(io::BlockDevice& dev);
// Parses a -f / backing-format name; an unknown name is an error.
util::Result<Format> parse_format(const std::string& name);

} // namespace imgmend::formats
