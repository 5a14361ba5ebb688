// The result of a check, with qemu-img check's counters and our findings.
#pragma once

#include "check/finding.hpp"

#include <array>
#include <cstddef>
#include <vector>

namespace imgmend::check {

// Findings kept in full, per report. A damaged 1 TiB image can have 16 M
// leaked clusters; listing each would take gigabytes. Past this many, a
// finding still counts (qemu's counters, by_kind) but is not kept.
inline constexpr size_t default_listed_findings = 100000;

struct CheckReport {
    uint64_t corruptions = 0;
    uint64_t leaks = 0;
    uint64_t check_errors = 0;
    uint64_t image_end_offset = 0;
    uint64_t total_clusters = 0;
    uint64_t allocated_clusters = 0;
    uint64_t fragmented_clusters = 0;
    uint64_t compressed_clusters = 0;
    std::vector<Finding> findings; // the first `listed_limit` findings, in the order found
    uint64_t unlisted = 0;         // findings counted but not kept
    uint64_t unlisted_unrepairable = 0; // of those, problems no repair mode fixes
    std::array<uint64_t, finding_kind_count> by_kind{}; // every finding, listed or not
    uint64_t warning_count = 0;
    size_t listed_limit = default_listed_findings;

    // Records a finding (kept while fewer than `listed_limit` are) and bumps
    // the matching counters.
    void add(Finding finding);
    uint64_t count(FindingKind kind) const { return by_kind[static_cast<size_t>(kind)]; }
    uint64_t total_findings() const { return findings.size() + unlisted; }
    uint64_t warnings() const { return warning_count; }
};

} // namespace imgmend::check
