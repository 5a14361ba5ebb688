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

// One line per listed finding on stderr, then one for those not listed.
void print_findings_human(const check::CheckReport& report);
void print_summary_human(const check::CheckReport& report);
// qemu-img check's members (and "findings-unlisted" when some findings are
// not listed); the findings themselves go in with print_json.
nlohmann::ordered_json report_json(const CheckSubject& subject, const check::CheckReport& report,
                                   const RepairCounts& fixed = {});
nlohmann::ordered_json finding_json(const check::Finding& finding);

// An array member of findings, written by print_json one finding at a time.
struct FindingsMember {
    std::string_view key;
    const std::vector<check::Finding>& findings;
};
// Prints `head` with the `arrays` appended as its last members, as
// head.dump(4) would print the whole, without building the arrays in memory.
void print_json(const nlohmann::ordered_json& head, std::initializer_list<FindingsMember> arrays);
// The exit code qemu-img check would give.
int check_exit_code(const check::CheckReport& report);

} // namespace imgmend::tools
