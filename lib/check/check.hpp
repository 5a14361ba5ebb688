// imgmend's qcow2 consistency check: the same verdicts as qemu-img check
// (corruptions, leaks, check errors, the fragmentation figures), each
// finding located and explained, plus warnings qemu-img stays silent about.
#pragma once

#include "check/cluster_counts.hpp"
#include "check/cluster_values.hpp"
#include "check/report.hpp"
#include "qcow2/snapshot.hpp"
#include "qcow2/image.hpp"

#include <functional>
#include <string_view>
#include <unordered_map>

namespace imgmend::check {

using util::Result;

enum class VerifyCompressed { no, yes };

struct CheckOptions {
    VerifyCompressed verify_compressed = VerifyCompressed::no;
    std::function<void(uint64_t done, uint64_t total, std::string_view phase)> progress;
    // How many findings the report keeps in full (the rest are only counted).
    size_t listed_findings = default_listed_findings;
};

// Everything a check learns about an image, for repair to build on.
struct CheckState {
    CheckReport report;
    ClusterCounts counts{4, 0};           // references counted per host cluster
    std::vector<uint64_t> reftable;       // refcount table entries as read
    // On-disk refcounts that differ from `counts` (everywhere else they agree).
    ClusterValues on_disk_mismatches;
    std::vector<uint64_t> unreadable;     // clusters whose on-disk refcount cannot be read
    // Clusters whose users contradict each other: metadata also used as
    // data or as other metadata, or data used twice with no snapshot to
    // explain it. Sorted. Repair never guesses about these.
    std::vector<uint64_t> conflicts;
    // The refcount structure itself is damaged: only a rebuild can fix it.
    bool rebuild_needed = false;
    // Clusters a reference points to but the check could not count, lying a
    // cluster or more past the end of the file (first, last; inclusive).
    // The guest reads zeros or an error there today: a repair that grows the
    // file must never place anything in them, or the guest would read it.
    std::vector<std::pair<uint64_t, uint64_t>> references_beyond_end;
    std::optional<qcow2::SnapshotTable> snapshots;
};

Result<CheckState> analyse_qcow2(qcow2::Image& image, const CheckOptions& options = {});

// Checks an opened image (read-only; never writes). Only what stops the
// check itself is an error; inconsistencies are findings in the report.
Result<CheckReport> check_qcow2(qcow2::Image& image, const CheckOptions& options = {});

} // namespace imgmend::check
