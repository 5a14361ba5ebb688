#include "check/checker.hpp"

#include "refcount/refcount_reader.hpp"
#include "util/checked.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace imgmend::check {

namespace {
constexpr uint64_t reftable_reserved_mask = 0x1ff;
}

Result<CheckState> analyse_qcow2(qcow2::Image& image, const CheckOptions& options)
{
    Checker checker(image, options);
    return checker.run();
}

Result<CheckReport> check_qcow2(qcow2::Image& image, const CheckOptions& options)
{
    return std::move(TRY(analyse_qcow2(image, options)).report);
}

Checker::Checker(qcow2::Image& image, const CheckOptions& options)
    : image_(image), options_(options), geometry_(image.geometry()), dev_(image.file()), file_size_(dev_.size()),
      counts_(geometry_.refcount_order, util::div_round_up(file_size_, geometry_.cluster_size)),
      metadata_use_(counts_.size())
{
    report_.listed_limit = options.listed_findings;
}

Result<CheckState> Checker::run()
{
    uint64_t guest_bytes = (geometry_.virtual_size + 511) / 512 * 512;
    report_.total_clusters = util::div_round_up(guest_bytes, geometry_.cluster_size);
    read_snapshots();
    read_bitmaps();
    reftable_ = TRY(refcount::read_refcount_table(dev_, image_.header()));

    WalkInputs inputs;
    inputs.snapshots = snapshots_ ? &*snapshots_ : nullptr;
    inputs.bitmaps = bitmaps_ ? &*bitmaps_ : nullptr;
    inputs.bitmap_directory_damaged = bitmap_directory_damaged_;
    ReferenceWalker walker(image_, inputs, Reporting::findings, report_,
                           [this](uint64_t offset, uint64_t size, const Role& role) {
                               count_reference(offset, size, role);
                           });
    if (options_.progress)
        walker.set_progress([this](uint64_t done, uint64_t total) { options_.progress(done, total, "tables"); });
    DataClusterCounter counter(counts_, metadata_use_, image_.header().nb_snapshots > 0, geometry_.cluster_bits);
    walker.set_data_counter(&counter);
    TRY(walker.walk());
    check_refcount_blocks();
    TRY(compare_refcounts());
    // Every active data cluster was counted once and nothing shares one, so
    // each has refcount 1 on disk (no mismatch) and its entry has
    // OFLAG_COPIED: the L2 tables need no second read.
    bool l2_flags_known_good = walker.active_entries_ordinary_and_copied() && image_.header().nb_snapshots == 0 &&
                               conflicts_.empty() && mismatches_.empty() && unreadable_.empty();
    TRY(check_copied_flags(l2_flags_known_good ? CopiedScope::l1_only : CopiedScope::l1_and_l2));
    std::sort(conflicts_.begin(), conflicts_.end());
    conflicts_.erase(std::unique(conflicts_.begin(), conflicts_.end()), conflicts_.end());
    // Repair leaves a cluster whose users contradict each other alone, so
    // its refcount findings name no repair.
    if (!conflicts_.empty())
        for (Finding& f : report_.findings)
            if ((f.kind == FindingKind::refcount_too_low || f.kind == FindingKind::refcount_too_high) && f.cluster &&
                std::binary_search(conflicts_.begin(), conflicts_.end(), *f.cluster))
                f.repair = Repair::none;
    attribute_owners();
    add_warnings();
    if (options_.verify_compressed == VerifyCompressed::yes)
        verify_compressed_clusters();
    CheckState state;
    state.report = std::move(report_);
    state.counts = std::move(counts_);
    state.reftable = std::move(reftable_);
    state.on_disk_mismatches = std::move(mismatches_);
    state.unreadable = std::move(unreadable_);
    state.conflicts = std::move(conflicts_);
    state.rebuild_needed = rebuild_needed_;
    state.references_beyond_end = std::move(references_beyond_end_);
    state.snapshots = std::move(snapshots_);
    return state;
}

void Checker::note_beyond_end(uint64_t first, uint64_t last)
{
    auto& ranges = references_beyond_end_;
    // Runs of such references (a truncated file) extend the last range.
    bool touches = !ranges.empty() && (ranges.back().second == ~uint64_t{0} || first <= ranges.back().second + 1) &&
                   last + 1 >= ranges.back().first;
    if (touches) {
        ranges.back().first = std::min(ranges.back().first, first);
        ranges.back().second = std::max(ranges.back().second, last);
        return;
    }
    ranges.emplace_back(first, last);
    // Scattered ones (a hostile image can have one per L2 entry): past a
    // bound, adjacent ranges merge, gaps included. Repair only ever avoids
    // these clusters, so a coarser list stays safe.
    constexpr size_t max_ranges = 1 << 16;
    if (ranges.size() <= max_ranges)
        return;
    std::sort(ranges.begin(), ranges.end());
    size_t out = 0;
    for (size_t i = 0; i < ranges.size(); i += 2) {
        ranges[out] = ranges[i];
        if (i + 1 < ranges.size())
            ranges[out].second = std::max(ranges[out].second, ranges[i + 1].second);
        ++out;
    }
    ranges.resize(out);
}

void Checker::count_reference(uint64_t offset, uint64_t size, const Role& role)
{
    const uint64_t cs = geometry_.cluster_size;
    if (size == 0)
        return;
    auto end = util::checked_add(offset, size);
    if (!end || (*end > file_size_ && *end - file_size_ >= cs)) {
        uint64_t last = end ? (*end - 1) / cs : ~uint64_t{0} / cs;
        note_beyond_end(offset / cs, last);
        Finding f{FindingKind::beyond_end_of_file, Severity::corruption, Repair::none,
                  fmt::format("ERROR: counting reference for region exceeding the end of the file by one cluster or "
                              "more: offset 0x{:x} size 0x{:x}",
                              offset, size)};
        f.host_offset = offset;
        f.l1_index = role.l1_index;
        f.l2_index = role.l2_index;
        f.guest_offset = role.guest_offset;
        f.snapshot = role.snapshot;
        f.bitmap = role.bitmap;
        f.owner = role.describe();
        report_.add(std::move(f));
        return;
    }
    uint64_t first = offset / cs;
    uint64_t last = (*end - 1) / cs;
    // Bounded: the end lies less than one cluster past the end of the file.
    if (last >= counts_.size()) {
        counts_.grow(last + 1);
        metadata_use_.resize(counts_.size());
    }
    bool shareable = image_.header().nb_snapshots > 0;
    bool metadata = role.is_metadata();
    for (uint64_t k = first; k <= last; ++k) {
        if (role.kind != RoleKind::compressed_data) {
            // Users that contradict each other. Snapshots legitimately
            // share L2 tables and data clusters; nothing else is shared.
            bool used_before = counts_.get(k) > 0;
            bool conflict = metadata ? used_before && !(role.kind == RoleKind::l2_table && shareable && metadata_use_.test(k))
                                     : metadata_use_.test(k) || (used_before && !shareable);
            if (conflict)
                conflicts_.push_back(k);
            if (metadata)
                metadata_use_.set(k);
        } else if (metadata_use_.test(k)) {
            // Compressed clusters share host clusters with each other, never
            // with metadata.
            conflicts_.push_back(k);
        }
        if (counts_.increment(k))
            continue;
        Finding f{FindingKind::refcount_overflow, Severity::corruption, Repair::none,
                  fmt::format("ERROR: overflow cluster offset=0x{:x}", k * cs)};
        f.cluster = k;
        f.host_offset = k * cs;
        f.l1_index = role.l1_index;
        f.l2_index = role.l2_index;
        f.guest_offset = role.guest_offset;
        f.snapshot = role.snapshot;
        f.bitmap = role.bitmap;
        f.owner = role.describe();
        report_.add(std::move(f));
    }
}

void Checker::read_snapshots()
{
    if (image_.header().nb_snapshots == 0) {
        snapshots_ = qcow2::SnapshotTable{};
        return;
    }
    auto table = qcow2::read_snapshot_table(dev_, image_.header());
    if (!table) {
        Finding f{FindingKind::snapshot_table_damaged, Severity::corruption, Repair::all,
                  fmt::format("ERROR snapshot table: {}", table.error().message)};
        f.host_offset = table.error().offset.value_or(image_.header().snapshots_offset);
        report_.add(std::move(f));
        return;
    }
    if (image_.header().version >= 3) {
        for (size_t i = 0; i < table->entries.size(); ++i) {
            const qcow2::Snapshot& sn = table->entries[i];
            if (sn.extra_data_size >= 16)
                continue;
            Finding f{FindingKind::snapshot_table_damaged, Severity::corruption, Repair::all,
                      fmt::format("ERROR snapshot table entry {} is incomplete", i)};
            f.snapshot = sn.id;
            f.host_offset = sn.entry_offset;
            report_.add(std::move(f));
        }
    }
    snapshots_ = std::move(*table);
}

void Checker::read_bitmaps()
{
    const auto& ext = image_.extensions().bitmaps;
    if (!ext || !(image_.header().autoclear_features & qcow2::autoclear_bitmaps) || ext->nb_bitmaps == 0)
        return;
    auto dir = qcow2::read_bitmap_directory(dev_, *ext);
    if (!dir) {
        bitmap_directory_damaged_ = true;
        Finding f{FindingKind::bitmap_directory_damaged, Severity::corruption, Repair::none,
                  fmt::format("ERROR bitmap directory: {}", dir.error().message)};
        f.host_offset = ext->directory_offset;
        report_.add(std::move(f));
        return;
    }
    const uint64_t cs = geometry_.cluster_size;
    for (const auto& bm : *dir) {
        // The constraints qemu checks before it will open the image.
        std::string problem;
        uint64_t bits = bm.granularity_bits >= 9 && bm.granularity_bits <= 31
                            ? util::div_round_up(geometry_.virtual_size, uint64_t{1} << bm.granularity_bits)
                            : 0;
        uint64_t needed = util::div_round_up(util::div_round_up(bits, 8), cs);
        if (bm.type != 1)
            problem = fmt::format("unknown type {}", bm.type);
        else if (bm.granularity_bits < 9 || bm.granularity_bits > 31)
            problem = fmt::format("granularity_bits {} outside 9..31", bm.granularity_bits);
        else if (bm.flags & ~uint32_t{0x7})
            problem = fmt::format("reserved flag bits set ({:#x})", bm.flags);
        else if (bm.name.empty())
            problem = "empty name";
        else if (bm.table_offset % cs != 0)
            problem = fmt::format("table offset {:#x} is not cluster aligned", bm.table_offset);
        else if (bm.table_size < needed)
            problem = fmt::format("table of {} entries is too small for the disk ({} needed)", bm.table_size, needed);
        if (!problem.empty()) {
            Finding f{FindingKind::bitmap_directory_damaged, Severity::corruption, Repair::none,
                      fmt::format("ERROR bitmap '{}' directory entry: {}", bm.name, problem)};
            f.bitmap = bm.name;
            f.host_offset = bm.entry_offset;
            report_.add(std::move(f));
        }
        if (!(bm.flags & qcow2::bitmap_flag_in_use))
            continue;
        Finding f{FindingKind::bitmap_in_use, Severity::warning, Repair::none,
                  fmt::format("bitmap '{}' is marked in use: it was not saved cleanly and cannot be trusted",
                              bm.name)};
        f.bitmap = bm.name;
        f.host_offset = bm.entry_offset;
        report_.add(std::move(f));
    }
    bitmaps_ = std::move(*dir);
}

void Checker::check_refcount_blocks()
{
    const uint64_t cs = geometry_.cluster_size;
    uint64_t table_entries = uint64_t{image_.header().refcount_table_clusters} * cs / 8;
    for (uint64_t i = 0; i < std::min<uint64_t>(table_entries, reftable_.size()); ++i) {
        uint64_t entry = reftable_[i];
        uint64_t offset = entry & refcount::reftable_offset_mask;
        Finding f{FindingKind::refblock_reserved_bits, Severity::corruption, Repair::all, {}};
        f.host_offset = image_.header().refcount_table_offset + i * 8;
        if (entry & reftable_reserved_mask) {
            rebuild_needed_ = true;
            f.message = fmt::format("ERROR refcount table entry {} has reserved bits set", i);
            report_.add(std::move(f));
            continue;
        }
        if (offset % cs != 0) {
            rebuild_needed_ = true;
            f.kind = FindingKind::refblock_unaligned;
            f.message = fmt::format("ERROR refcount block {} is not cluster aligned; refcount table entry corrupted", i);
            report_.add(std::move(f));
            continue;
        }
        uint64_t cluster = offset / cs;
        if (cluster >= counts_.size()) {
            rebuild_needed_ = true;
            f.kind = FindingKind::refblock_outside_image;
            f.message = fmt::format("ERROR refcount block {} is outside image", i);
            report_.add(std::move(f));
            continue;
        }
        if (offset == 0)
            continue;
        Role role{RoleKind::refcount_block};
        role.table_index = i;
        count_reference(offset, cs, role);
        if (counts_.get(cluster) != 1) {
            rebuild_needed_ = true;
            f.kind = FindingKind::refblock_refcount;
            f.message = fmt::format("ERROR refcount block {} refcount={}", i, counts_.get(cluster));
            f.cluster = cluster;
            f.host_offset = offset;
            report_.add(std::move(f));
        }
    }
}

} // namespace imgmend::check
