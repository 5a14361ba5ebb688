// Printing a check report as qemu-img check does (human summary on stdout,
// JSON object), with our findings: one line each on stderr in human mode, a
// "findings" array in JSON.
#pragma once

#include "check/report.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace imgmend::tools {

struct RepairCounts {
    uint64_t leaks_fixed = 0;
    uint64_t corruptions_fixed = 0;
};

struct CheckSubject {
    std::string filename;
    std::string format;
};

void print_findings_human(const check::CheckReport& report);
void print_summary_human(const check::CheckReport& report);
nlohmann::ordered_json report_json(const CheckSubject& subject, const check::CheckReport& report,
                                   const RepairCounts& fixed = {});
nlohmann::ordered_json finding_json(const check::Finding& finding);
// The exit code qemu-img check would give.
int check_exit_code(const check::CheckReport& report);

} // namespace imgmend::tools
