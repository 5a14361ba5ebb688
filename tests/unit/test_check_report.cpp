// CheckReport (lib/check/report.cpp): qemu's counters and the findings,
// kept in full up to a limit and counted beyond it.
#include "check/report.hpp"

#include <doctest/doctest.h>

using namespace imgmend::check;

namespace {
Finding finding(FindingKind kind, Severity severity, Repair repair)
{
    return Finding{kind, severity, repair, "a finding"};
}
} // namespace

TEST_CASE("each finding bumps its severity's counter and its kind's count")
{
    CheckReport r;
    r.add(finding(FindingKind::refcount_too_high, Severity::leak, Repair::leaks));
    r.add(finding(FindingKind::refcount_too_low, Severity::corruption, Repair::all));
    r.add(finding(FindingKind::table_unreadable, Severity::check_error, Repair::none));
    r.add(finding(FindingKind::dirty_bit, Severity::warning, Repair::all));
    CHECK(r.leaks == 1);
    CHECK(r.corruptions == 1);
    CHECK(r.check_errors == 1);
    CHECK(r.warnings() == 1);
    CHECK(r.count(FindingKind::refcount_too_high) == 1);
    CHECK(r.count(FindingKind::beyond_end_of_file) == 0);
    CHECK(r.findings.size() == 4);
    CHECK(r.unlisted == 0);
    CHECK(r.total_findings() == 4);
}

TEST_CASE("past the limit findings are counted, not kept")
{
    CheckReport r;
    r.listed_limit = 3;
    for (int i = 0; i < 10; ++i)
        r.add(finding(FindingKind::refcount_too_high, Severity::leak, Repair::leaks));
    r.add(finding(FindingKind::l2_reserved_bits, Severity::corruption, Repair::none));
    r.add(finding(FindingKind::bitmap_in_use, Severity::warning, Repair::none));
    CHECK(r.findings.size() == 3);
    CHECK(r.unlisted == 9);
    CHECK(r.total_findings() == 12);
    CHECK(r.leaks == 10);
    CHECK(r.corruptions == 1);
    CHECK(r.warnings() == 1);
    CHECK(r.count(FindingKind::refcount_too_high) == 10);
    CHECK(r.count(FindingKind::l2_reserved_bits) == 1);
    // Only the unlisted corruption no repair fixes (not the warning).
    CHECK(r.unlisted_unrepairable == 1);
    for (const Finding& f : r.findings)
        CHECK(f.kind == FindingKind::refcount_too_high); // the first ones, in order
}
