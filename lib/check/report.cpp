#include "check/report.hpp"

#include <algorithm>

namespace imgmend::check {

void CheckReport::add(Finding finding)
{
    switch (finding.severity) {
    case Severity::corruption: ++corruptions; break;
    case Severity::leak: ++leaks; break;
    case Severity::check_error: ++check_errors; break;
    case Severity::warning: break;
    }
    findings.push_back(std::move(finding));
}

uint64_t CheckReport::warnings() const
{
    return static_cast<uint64_t>(std::count_if(findings.begin(), findings.end(),
                                               [](const Finding& f) { return f.severity == Severity::warning; }));
}

} // namespace imgmend::check
