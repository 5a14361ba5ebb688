// Internal: the rewrite of a damaged snapshot table (-r all), planned ahead
// of the rest of the repair (see repair.cpp).
#pragma once

#include "check/check.hpp"
#include "io/write_plan.hpp"

#include <optional>
#include <string>
#include <vector>

namespace imgmend::repair {

struct SnapshotFix {
    bool planned = false;
    io::Plan plan;
    uint64_t corruptions_fixed = 0;
    std::vector<std::string> notes;     // what the rewrite does, qemu's wording where it has one
    std::optional<std::string> refused; // why the damaged table is left alone
};

// Plans the rewrite when the check found snapshot table damage that qemu-img
// check -r all repairs; otherwise plans nothing (and says why, if damaged).
util::Result<SnapshotFix> plan_snapshot_table_fix(qcow2::Image& image, const check::CheckState& state);

} // namespace imgmend::repair
