#include "check/report.hpp"

namespace imgmend::check {

void CheckReport::add(Finding finding)
{
    switch (finding.severity) {
    case Severity::corruption: ++corruptions; break;
    case Severity::leak: ++leaks; break;
    case Severity::check_error: ++check_errors; break;
    case Severity::warning: ++warning_count; break;
    }
    ++by_kind[static_cast<size_t>(finding.kind)];
    if (findings.size() < listed_limit) {
        findings.push_back(std::move(finding));
        return;
    }
    ++unlisted;
    if (finding.severity != Severity::warning && finding.repair == Repair::none)
        ++unlisted_unrepairable;
}

} // namespace imgmend::check
