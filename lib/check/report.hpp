// The result of a check, with qemu-img check's counters and our findings.
#pragma once

#include "check/finding.hpp"

#include <vector>

namespace imgmend::check {

struct CheckReport {
    uint64_t corruptions = 0;
    uint64_t leaks = 0;
    uint64_t check_errors = 0;
    uint64_t image_end_offset = 0;
    uint64_t total_clusters = 0;
    uint64_t allocated_clusters = 0;
    uint64_t fragmented_clusters = 0;
    uint64_t compressed_clusters = 0;
    std::vector<Finding> findings;

    // Records a finding and bumps the matching qemu counter.
    void add(Finding finding);
    uint64_t warnings() const;
};

} // namespace imgmend::check
