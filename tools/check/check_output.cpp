#include "check/check_output.hpp"

#include "common/exit_code.hpp"

#include <fmt/format.h>

namespace imgmend::tools {

namespace {

std::string location(const check::Finding& f)
{
    std::vector<std::string> parts;
    if (!f.owner.empty())
        parts.push_back(f.owner);
    else {
        if (f.guest_offset)
            parts.push_back(fmt::format("guest offset {:#x}", *f.guest_offset));
        if (f.l1_index)
            parts.push_back(fmt::format("L1 index {}", *f.l1_index));
        if (f.l2_index)
            parts.push_back(fmt::format("L2 index {}", *f.l2_index));
        if (f.snapshot)
            parts.push_back(fmt::format("snapshot {}", *f.snapshot));
        if (f.bitmap)
            parts.push_back(fmt::format("bitmap '{}'", *f.bitmap));
    }
    if (f.host_offset)
        parts.push_back(fmt::format("host offset {:#x}", *f.host_offset));
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : ", ") + p;
    return out;
}

} // namespace

void print_findings_human(const check::CheckReport& report)
{
    for (const auto& f : report.findings) {
        std::string where = location(f);
        std::string prefix = f.severity == check::Severity::warning ? "Warning: " : "";
        fmt::print(stderr, "{}{} [{}{}fix: {}]\n", prefix, f.message, where, where.empty() ? "" : "; ",
                   check::to_string(f.repair));
    }
    if (report.unlisted)
        fmt::print(stderr, "... and {} more findings, not listed (the counts below include them)\n",
                   report.unlisted);
}

void print_summary_human(const check::CheckReport& r)
{
    if (r.corruptions == 0 && r.leaks == 0 && r.check_errors == 0) {
        fmt::print("No errors were found on the image.\n");
    } else {
        if (r.corruptions)
            fmt::print("\n{} errors were found on the image.\n"
                       "Data may be corrupted, or further writes to the image may corrupt it.\n",
                       r.corruptions);
        if (r.leaks)
            fmt::print("\n{} leaked clusters were found on the image.\n"
                       "This means waste of disk space, but no harm to data.\n",
                       r.leaks);
        if (r.check_errors)
            fmt::print("\n{} internal errors have occurred during the check.\n", r.check_errors);
    }
    if (r.total_clusters != 0 && r.allocated_clusters != 0) {
        double allocated = static_cast<double>(r.allocated_clusters);
        fmt::print("{}/{} = {:.2f}% allocated, {:.2f}% fragmented, {:.2f}% compressed clusters\n",
                   r.allocated_clusters, r.total_clusters, allocated * 100.0 / static_cast<double>(r.total_clusters),
                   static_cast<double>(r.fragmented_clusters) * 100.0 / allocated,
                   static_cast<double>(r.compressed_clusters) * 100.0 / allocated);
    }
    if (r.image_end_offset)
        fmt::print("Image end offset: {}\n", r.image_end_offset);
}

nlohmann::ordered_json finding_json(const check::Finding& f)
{
    nlohmann::ordered_json j;
    j["kind"] = check::to_string(f.kind);
    j["severity"] = check::to_string(f.severity);
    j["message"] = f.message;
    auto put = [&](const char* key, const std::optional<uint64_t>& v) {
        if (v)
            j[key] = *v;
    };
    put("host-offset", f.host_offset);
    put("cluster", f.cluster);
    put("l1-index", f.l1_index);
    put("l2-index", f.l2_index);
    put("guest-offset", f.guest_offset);
    put("refcount", f.refcount);
    put("references", f.references);
    if (f.snapshot)
        j["snapshot"] = *f.snapshot;
    if (f.bitmap)
        j["bitmap"] = *f.bitmap;
    if (!f.owner.empty())
        j["owner"] = f.owner;
    j["repair"] = f.repair == check::Repair::none ? "none" : (f.repair == check::Repair::leaks ? "leaks" : "all");
    return j;
}

nlohmann::ordered_json report_json(const CheckSubject& subject, const check::CheckReport& r,
                                   const RepairCounts& fixed)
{
    // Members in the order qemu-img prints them; counters omitted when zero,
    // as qemu does (check-errors always present).
    nlohmann::ordered_json j;
    auto put = [&](const char* key, uint64_t value) {
        if (value)
            j[key] = value;
    };
    put("image-end-offset", r.image_end_offset);
    put("compressed-clusters", r.compressed_clusters);
    put("total-clusters", r.total_clusters);
    put("corruptions", r.corruptions);
    put("corruptions-fixed", fixed.corruptions_fixed);
    j["check-errors"] = r.check_errors;
    put("leaks", r.leaks);
    put("leaks-fixed", fixed.leaks_fixed);
    put("allocated-clusters", r.allocated_clusters);
    j["filename"] = subject.filename;
    j["format"] = subject.format;
    put("fragmented-clusters", r.fragmented_clusters);
    put("findings-unlisted", r.unlisted);
    return j;
}

void print_json(const nlohmann::ordered_json& head, std::initializer_list<FindingsMember> arrays)
{
    std::string text = head.dump(4);
    // "{\n    ...\n}" (or "{}" for an empty head): reopen it after the last member.
    bool empty = text == "{}";
    text.resize(empty ? 1 : text.size() - 2);
    std::fputs(text.c_str(), stdout);
    bool first_member = empty;
    for (const FindingsMember& a : arrays) {
        fmt::print("{}\n    {}: ", first_member ? "" : ",", nlohmann::ordered_json(a.key).dump());
        first_member = false;
        if (a.findings.empty()) {
            std::fputs("[]", stdout);
            continue;
        }
        std::fputs("[", stdout);
        bool first = true;
        for (const auto& f : a.findings) {
            // Nested two levels deep: every line of its own dump(4) indented by 8.
            std::string item = finding_json(f).dump(4);
            std::string indented = "        ";
            for (char c : item) {
                indented += c;
                if (c == '\n')
                    indented += "        ";
            }
            fmt::print("{}\n{}", first ? "" : ",", indented);
            first = false;
        }
        std::fputs("\n    ]", stdout);
    }
    std::fputs("\n}\n", stdout);
}

int check_exit_code(const check::CheckReport& r)
{
    if (r.check_errors)
        return to_int(ExitCode::failed);
    if (r.corruptions)
        return to_int(ExitCode::corruptions);
    if (r.leaks)
        return to_int(ExitCode::leaks);
    return to_int(ExitCode::ok);
}

} // namespace imgmend::tools
