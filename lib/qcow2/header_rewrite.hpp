// Rewriting the header cluster with a new backing reference: the fixed
// fields, every extension in its original order (unknown ones and the
// feature name table included) with the backing-format extension replaced,
// added or dropped, the end marker, then the backing file name. Refuses a
// name longer than 1023 bytes or a header that would not fit its cluster.
#pragma once

#include "qcow2/extensions.hpp"

#include <optional>
#include <string>
#include <vector>

namespace imgmend::qcow2 {

using util::Result;

struct BackingReference {
    std::string name;   // empty: no backing file (flattened)
    std::string format; // backing format extension; empty: none
};

// Returns the new bytes of the header region, at least as long as the old
// one (`old_used` bytes) so a shorter header leaves no stale name behind.
Result<std::vector<uint8_t>> rewrite_header(const Header& header, const Extensions& extensions,
                                            const BackingReference& backing, uint64_t old_used);

// How many bytes of the header cluster the current header uses.
uint64_t header_bytes_used(const Header& header, const Extensions& extensions);

} // namespace imgmend::qcow2
