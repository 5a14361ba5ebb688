// imgmend's qcow2 repair: plans every change from a check's findings, never
// guessing where the right fix is uncertain, then (unless a dry run) writes
// it in a crash-safe order.
#pragma once

#include "check/check.hpp"
#include "io/write_plan.hpp"

namespace imgmend::repair {

using util::Result;

enum class RepairMode { leaks, all };

struct RepairOutcome {
    check::CheckReport before;
    uint64_t leaks_fixed = 0;
    uint64_t corruptions_fixed = 0;
    // What was found but deliberately left alone, one line each, with why.
    std::vector<std::string> refused;
    // What a structural rewrite (the snapshot table) does, one line each.
    std::vector<std::string> notes;
    bool rebuild = false;
    io::Plan plan;
};

// Checks the image and plans its repair. Writes nothing.
Result<RepairOutcome> plan_repair(qcow2::Image& image, RepairMode mode, const check::CheckOptions& options = {});

} // namespace imgmend::repair
