#include "repair/planner.hpp"

#include "repair/planned_view.hpp"
#include "repair/snapshot_fix.hpp"
#include "qcow2/header_rewrite.hpp"
#include "qcow2/l2_entry.hpp"
#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace imgmend::repair {

using check::FindingKind;

namespace {

// Steps of `from` appended to `to`, in order.
void append_steps(io::Plan& to, const io::Plan& from)
{
    for (const io::Step& s : from.steps()) {
        switch (s.kind) {
        case io::Step::Kind::write: to.write(s.offset, s.data, s.what); break;
        case io::Step::Kind::flush: to.flush(s.what); break;
        case io::Step::Kind::discard: to.discard(s.offset, s.length, s.what); break;
        }
    }
}

// The snapshot table is rewritten first; the rest of the repair is then
// planned on the image as it will be after that (checked again through a
// PlannedView), exactly as qemu checks its refcounts against the snapshot
// list it has just repaired: snapshots it drops leave leaks that the leak
// repair frees, and the counts add up as qemu's do.
Result<RepairOutcome> repair_after_snapshot_fix(qcow2::Image& image, check::CheckReport before, SnapshotFix fix,
                                                RepairMode mode, const check::CheckOptions& options)
{
    auto view = std::make_shared<PlannedView>(image.file(), fix.plan);
    auto fixed = qcow2::Image::open(view);
    if (!fixed)
        return util::fail(util::Errc::corrupt_metadata, "the image with its snapshot table rewritten does not open: {}",
                          fixed.error().message);
    Planner planner(**fixed, TRY(check::analyse_qcow2(**fixed, options)), mode);
    RepairOutcome out = TRY(planner.run());
    out.before = std::move(before);
    out.corruptions_fixed += fix.corruptions_fixed;
    out.notes.insert(out.notes.begin(), fix.notes.begin(), fix.notes.end());
    // (The view, which reads through fix.plan, is not used past here.)
    io::Plan plan = std::move(fix.plan);
    append_steps(plan, out.plan);
    out.plan = std::move(plan);
    return out;
}

} // namespace

namespace {
// Does the active L1 table start in the header's cluster? Then the header
// fields a repair rewrites (refcount table, snapshot table, feature bits)
// may be L1 entries too, and rewriting them would change what the guest
// reads. (A refcount or snapshot table there is different: the repair
// replaces it.)
bool header_shared(const qcow2::Image& image)
{
    const qcow2::Header& h = image.header();
    return h.l1_size > 0 && h.l1_table_offset < image.geometry().cluster_size;
}
} // namespace

Result<RepairOutcome> plan_repair(qcow2::Image& image, RepairMode mode, const check::CheckOptions& options)
{
    check::CheckState state = TRY(check::analyse_qcow2(image, options));
    std::optional<std::string> snapshot_refusal;
    if (mode == RepairMode::all && header_shared(image)) {
        // The snapshot table switch rewrites header bytes another structure holds.
        snapshot_refusal = "left alone: the snapshot table, whose switch would rewrite header bytes the active L1 "
                           "table also holds";
    } else if (mode == RepairMode::all) {
        SnapshotFix fix = TRY(plan_snapshot_table_fix(image, state));
        if (fix.planned)
            return repair_after_snapshot_fix(image, std::move(state.report), std::move(fix), mode, options);
        snapshot_refusal = std::move(fix.refused);
    }
    Planner planner(image, std::move(state), mode);
    if (snapshot_refusal)
        planner.leave_alone(std::move(*snapshot_refusal));
    return planner.run();
}

void Planner::leave_alone(std::string why)
{
    left_alone_ = true;
    out_.refused.push_back(std::move(why));
}

Planner::Planner(qcow2::Image& image, check::CheckState state, RepairMode mode)
    : image_(image), g_(image.geometry()), state_(std::move(state)), mode_(mode),
      unfollowed_(state_.references_beyond_end), l2_editor_(image.file()),
      adjust_(state_.counts.size()), new_refcount_(g_.refcount_order, state_.counts.size()), freed_(g_.cluster_size),
      beyond_reader_(std::make_unique<refcount::RefcountReader>(image.file(), image.geometry(), state_.reftable))
{
}

uint64_t Planner::on_disk(uint64_t c) const
{
    if (auto disk = state_.on_disk_mismatches.find(c))
        return *disk;
    if (c < state_.counts.size())
        return state_.counts.get(c);
    // Never compared by the check (past the end of the file): read it.
    auto r = beyond_reader_->refcount(c);
    return r ? *r : 0;
}

uint64_t Planner::expected(uint64_t c) const
{
    int64_t v = c < state_.counts.size() ? static_cast<int64_t>(state_.counts.get(c)) : 0;
    if (const int64_t* delta = adjust_.find(c))
        v += *delta;
    return v < 0 ? 0 : static_cast<uint64_t>(v);
}

uint64_t Planner::final_refcount(uint64_t c) const
{
    auto planned = new_refcount_.find(c);
    return planned ? *planned : on_disk(c);
}

bool Planner::conflict(uint64_t c) const
{
    return std::binary_search(state_.conflicts.begin(), state_.conflicts.end(), c);
}

bool Planner::pointer_corruptions() const
{
    // Counted over every finding, also those the report does not list.
    for (FindingKind kind : {FindingKind::unaligned_l2_table, FindingKind::unaligned_data_cluster,
                             FindingKind::beyond_end_of_file, FindingKind::l1_reserved_bits,
                             FindingKind::l2_reserved_bits, FindingKind::unallocated_with_bitmap,
                             FindingKind::subcluster_alloc_and_zero, FindingKind::compressed_with_bitmap,
                             FindingKind::snapshot_l1_unaligned, FindingKind::snapshot_l1_too_large,
                             FindingKind::snapshot_table_damaged, FindingKind::bitmap_directory_damaged,
                             FindingKind::bitmap_table_damaged, FindingKind::refcount_unreadable,
                             FindingKind::table_unreadable})
        if (state_.report.count(kind))
            return true;
    return !state_.conflicts.empty();
}

Result<RepairOutcome> Planner::run()
{
    out_.before = state_.report;
    // Report what no mode repairs, once, before planning the rest.
    for (const auto& f : state_.report.findings) {
        if (f.kind == FindingKind::snapshot_table_damaged && mode_ == RepairMode::leaks) {
            left_alone_ = true;
            out_.refused.push_back(fmt::format("left alone: {} (-r all rewrites the snapshot table)", f.message));
            continue;
        }
        if (f.severity == check::Severity::warning || f.repair != check::Repair::none)
            continue;
        if ((f.kind == FindingKind::refcount_too_low || f.kind == FindingKind::refcount_too_high) && f.cluster &&
            conflict(*f.cluster))
            continue; // said below, with the cluster's users
        left_alone_ = true;
        out_.refused.push_back(fmt::format("left alone: {} (the right fix is not certain)", f.message));
    }
    if (state_.report.unlisted_unrepairable) {
        left_alone_ = true;
        out_.refused.push_back(fmt::format("left alone: {} more problems past the {} findings listed, which no "
                                           "repair mode fixes",
                                           state_.report.unlisted_unrepairable, state_.report.findings.size()));
    }
    for (uint64_t c : state_.conflicts) {
        left_alone_ = true;
        out_.refused.push_back(fmt::format("left alone: cluster {} (host offset {:#x}) has contradicting users; "
                                           "its refcount is kept at {}",
                                           c, c * g_.cluster_size, on_disk(c)));
    }
    if (mode_ == RepairMode::all)
        TRY(fix_l2_entries());
    if (mode_ == RepairMode::all && state_.rebuild_needed && header_shared(image_)) {
        left_alone_ = true;
        out_.refused.push_back("left alone: the refcount structure needs a rebuild, but the active L1 table starts in "
                               "the header's cluster, so switching to a new structure could rewrite L1 entries");
    } else if (mode_ == RepairMode::all && state_.rebuild_needed) {
        TRY(rebuild_refcounts());
    } else if (state_.rebuild_needed) {
        // The refcount structure itself is damaged: in-place edits could free
        // live clusters. Only -r all (a rebuild) touches refcounts then.
        left_alone_ = true;
        out_.refused.push_back("left alone: the refcount structure is damaged and needs a rebuild (-r all)");
    } else {
        TRY(fix_refcounts_in_place());
    }
    TRY(fix_copied_flags());
    discard_freed();
    if (!header_shared(image_))
        fix_header_bits();
    return std::move(out_);
}

Result<void> Planner::fix_l2_entries()
{
    io::TableEditor& editor = l2_editor_;
    const uint64_t cs = g_.cluster_size;
    uint64_t listed = 0;
    for (const auto& f : state_.report.findings) {
        if (f.kind != FindingKind::unaligned_prealloc_zero && f.kind != FindingKind::compressed_copied)
            continue;
        ++listed;
        if (!f.host_offset)
            continue;
        uint64_t table = util::align_down(*f.host_offset, cs);
        uint64_t at = *f.host_offset - table;
        // Only entries of an active L2 table reached through an aligned L1
        // entry: anything else may not be an L2 table at all.
        if (f.snapshot || !f.l1_index || (image_.l1_entry(*f.l1_index) & qcow2::offset_mask) != table) {
            left_alone_ = true;
            out_.refused.push_back(fmt::format("left alone: {} (not in an active, aligned L2 table)", f.message));
            continue;
        }
        if (conflict(table / cs) || unfollowed_.covers(table / cs)) {
            left_alone_ = true;
            out_.refused.push_back(fmt::format(
                "left alone: {} (its L2 table's cluster is also used as guest data: rewriting it would change what "
                "the guest reads)",
                f.message));
            continue;
        }
        std::vector<uint8_t>& bytes = *TRY(editor.table(table, cs));
        edited_l2_.insert(table);
        uint64_t raw = util::load_be64(bytes, at);
        if (f.kind == FindingKind::compressed_copied) {
            util::store_be64(bytes, at, raw & ~qcow2::oflag_copied);
        } else {
            // A preallocated zero cluster whose offset is garbage: make it a
            // plain zero cluster (the guest still reads zeros) and drop the
            // two host clusters the garbage offset was counted against.
            uint64_t offset = raw & qcow2::offset_mask;
            for (uint64_t c = offset / cs; c <= (offset + cs - 1) / cs; ++c)
                adjust_[c] -= 1;
            if (g_.subclusters > 1) {
                util::store_be64(bytes, at, 0);
                util::store_be64(bytes, at + 8, 0xffffffff00000000ull);
            } else {
                util::store_be64(bytes, at, qcow2::oflag_zero);
            }
        }
        ++out_.corruptions_fixed;
    }
    uint64_t all = state_.report.count(FindingKind::unaligned_prealloc_zero) +
                   state_.report.count(FindingKind::compressed_copied);
    if (all > listed) {
        // Their places are not kept: a later run, with fewer findings, fixes them.
        left_alone_ = true;
        out_.refused.push_back(fmt::format("left alone: {} more L2 entries to fix past the findings listed "
                                           "(run the repair again)",
                                           all - listed));
    }
    out_.plan.flush("before L2 entry fixes");
    editor.emit(out_.plan, "L2 entry fix");
    out_.plan.flush("after L2 entry fixes");
    return {};
}

Result<void> Planner::fix_refcounts_in_place()
{
    io::TableEditor raise(image_.file()), lower(image_.file());
    bool keep_orphans = pointer_corruptions();
    auto fix = [&](uint64_t c) -> Result<void> {
        uint64_t disk = on_disk(c), want = expected(c);
        if (disk == want)
            return {};
        if (conflict(c))
            return {}; // reported in run()
        if (want > disk && (mode_ == RepairMode::leaks || disk == 0))
            return {}; // leaks only, or needs a rebuild: stays a corruption
        if (want < disk && keep_orphans) {
            // Some reference could not be followed (a damaged pointer, an
            // unreadable snapshot or bitmap): this cluster may be in use.
            left_alone_ = true;
            if (++kept_orphans_ <= max_listed_refusals)
                out_.refused.push_back(fmt::format("kept: leaked cluster {} (host offset {:#x}) keeps refcount {} "
                                                   "while damaged pointers remain; it may hold the only copy of data",
                                                   c, c * g_.cluster_size, disk));
            return {};
        }
        uint64_t t = c / g_.refblock_entries;
        uint64_t block = t < state_.reftable.size() ? state_.reftable[t] & refcount::reftable_offset_mask : 0;
        if (block == 0 || block % g_.cluster_size != 0)
            return {};
        io::TableEditor& editor = want > disk ? raise : lower;
        std::vector<uint8_t>& bytes = *TRY(editor.table(block, g_.cluster_size));
        refcount::set_entry(bytes, g_.refcount_order, c % g_.refblock_entries, want);
        new_refcount_.set(c, want);
        if (want == 0)
            freed_.add(c);
        if (want > disk)
            ++out_.corruptions_fixed;
        else
            ++out_.leaks_fixed;
        return {};
    };
    // Every cluster whose refcount may change once: the on-disk mismatches
    // in cluster order, then the other clusters whose count a fix adjusted.
    for (uint64_t c = state_.on_disk_mismatches.next(0); c != check::ClusterValues::none;
         c = state_.on_disk_mismatches.next(c + 1))
        TRY(fix(c));
    std::vector<uint64_t> adjusted;
    for (const auto& [c, delta] : adjust_.all())
        if (!state_.on_disk_mismatches.contains(c))
            adjusted.push_back(c);
    std::sort(adjusted.begin(), adjusted.end());
    for (uint64_t c : adjusted)
        TRY(fix(c));
    if (kept_orphans_ > max_listed_refusals)
        out_.refused.push_back(fmt::format("kept: {} more leaked clusters, for the same reason", kept_orphans_ -
                                                                                                 max_listed_refusals));
    // Raising first: an interrupted repair leaves at worst leaks, never a
    // cluster in use with too low a refcount.
    raise.emit(out_.plan, "refcount block (raise)");
    out_.plan.flush("after raising refcounts");
    lower.emit(out_.plan, "refcount block (lower)");
    out_.plan.flush("after lowering refcounts");
    return {};
}

Result<void> Planner::fix_copied_flags()
{
    uint64_t copied_findings =
        state_.report.count(FindingKind::copied_l1_mismatch) + state_.report.count(FindingKind::copied_l2_mismatch);
    if (mode_ == RepairMode::leaks) {
        // As qemu: with -r leaks, OFLAG_COPIED is only trusted to the
        // refcounts when nothing else is wrong.
        bool leaks_left = out_.leaks_fixed < state_.report.leaks;
        if (state_.report.corruptions > copied_findings || state_.report.check_errors || leaks_left) {
            if (copied_findings)
                left_alone_ = true;
            return {};
        }
    }
    io::TableEditor& l2_editor = l2_editor_;
    io::TableEditor l1_editor(image_.file());
    const qcow2::Header& h = image_.header();
    const uint64_t cs = g_.cluster_size;
    bool data_file = h.has_data_file();
    std::vector<uint8_t> scratch(cs);
    for (uint64_t i = 0; i < h.l1_size; ++i) {
        uint64_t l1 = image_.l1_entry(i);
        uint64_t l2 = l1 & qcow2::offset_mask;
        if (l2 == 0 || l2 % cs != 0)
            continue;
        uint64_t rc = final_refcount(l2 / cs);
        uint64_t l1_entry_at = h.l1_table_offset + i * 8;
        // Not in a cluster other structures use too (as the check saw it, or
        // as an L1 table too long for the file, which it could not count).
        bool l1_alone = !conflict(l1_entry_at / cs) && !unfollowed_.covers(l1_entry_at / cs);
        if (!conflict(l2 / cs) && l1_alone && (rc == 1) != ((l1 & qcow2::oflag_copied) != 0)) {
            uint64_t table_start = util::align_down(h.l1_table_offset + i * 8, cs);
            std::vector<uint8_t>& l1_bytes = *TRY(l1_editor.table(table_start, cs));
            uint64_t at = h.l1_table_offset + i * 8 - table_start;
            util::store_be64(l1_bytes, at, rc == 1 ? l1 | qcow2::oflag_copied : l1 & ~qcow2::oflag_copied);
            ++out_.corruptions_fixed;
        }
        // A table that is also used otherwise (as guest data, say) is not
        // rewritten: that would change what its other user reads.
        if (conflict(l2 / cs) || unfollowed_.covers(l2 / cs))
            continue;
        // Read into a scratch buffer; only a table that changes goes to the
        // editor (which keeps two copies of every table it is given: on a
        // 1 TiB image, 256 MiB for tables that mostly stay as they are).
        std::vector<uint8_t>* table = &scratch;
        if (edited_l2_.count(l2))
            table = TRY(l2_editor.table(l2, cs));
        else
            TRY(image_.file().read_zero_padded(l2, scratch));
        for (uint64_t j = 0; j < g_.l2_entries; ++j) {
            uint64_t raw = util::load_be64(*table, j * g_.l2_entry_bytes);
            uint64_t data = raw & qcow2::offset_mask;
            if ((raw & qcow2::oflag_compressed) || (data == 0 && !(data_file && (raw & qcow2::oflag_copied))))
                continue;
            uint64_t want_rc = data_file ? 1 : final_refcount(data / cs);
            if (!data_file && conflict(data / cs))
                continue;
            if ((want_rc == 1) == ((raw & qcow2::oflag_copied) != 0))
                continue;
            if (table == &scratch) { // the editor reads the same bytes
                table = TRY(l2_editor.table(l2, cs));
                edited_l2_.insert(l2);
            }
            util::store_be64(*table, j * g_.l2_entry_bytes,
                             want_rc == 1 ? raw | qcow2::oflag_copied : raw & ~qcow2::oflag_copied);
            ++out_.corruptions_fixed;
        }
    }
    l2_editor.emit(out_.plan, "L2 OFLAG_COPIED fix");
    l1_editor.emit(out_.plan, "L1 OFLAG_COPIED fix");
    out_.plan.flush("after OFLAG_COPIED fixes");
    return {};
}

void Planner::discard_freed()
{
    // Only once their zero refcounts are on disk (the flush above).
    plan_discards(out_.plan, freed_, g_.cluster_size, image_.file().size(), "free clusters");
}

FreedRuns::FreedRuns(uint64_t cluster_size) : min_clusters_(util::div_round_up(min_discard_bytes, cluster_size)) {}

void FreedRuns::add(uint64_t cluster)
{
    if (!runs_.empty() && cluster >= runs_.back().first && cluster <= runs_.back().second + 1) {
        runs_.back().second = std::max(runs_.back().second, cluster);
        return;
    }
    if (!runs_.empty() && cluster > runs_.back().second && runs_.back().second - runs_.back().first + 1 < min_clusters_)
        runs_.back() = {cluster, cluster}; // too short to discard, and it cannot grow any more
    else
        runs_.emplace_back(cluster, cluster);
}

std::vector<std::pair<uint64_t, uint64_t>> FreedRuns::runs() const
{
    std::vector<std::pair<uint64_t, uint64_t>> sorted = runs_;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;
    for (const auto& r : sorted) {
        if (!merged.empty() && r.first <= merged.back().second + 1)
            merged.back().second = std::max(merged.back().second, r.second);
        else
            merged.push_back(r);
    }
    return merged;
}

void plan_discards(io::Plan& plan, const FreedRuns& freed, uint64_t cluster_size, uint64_t file_size,
                   std::string_view what)
{
    for (const auto& [first, last] : freed.runs()) {
        uint64_t start = first * cluster_size;
        uint64_t end = std::min(file_size, last * cluster_size + cluster_size);
        if (start < end && end - start >= min_discard_bytes)
            plan.discard(start, end - start, fmt::format("{} {}..{}", what, first, last));
    }
}

bool Planner::anything_left() const
{
    // Everything else the check found has a planned fix.
    return left_alone_ || state_.report.check_errors > 0;
}

void Planner::fix_header_bits()
{
    const qcow2::Header& h = image_.header();
    // As qemu, either mode clears both bits once the image is consistent.
    uint64_t clear = qcow2::incompat_dirty | qcow2::incompat_corrupt;
    // Without the autoclear bit the bitmaps extension is stale (qemu drops
    // it when it opens the image read-write): drop it too, last.
    if (h.version >= 3 && image_.extensions().bitmaps && !(h.autoclear_features & qcow2::autoclear_bitmaps)) {
        qcow2::Extensions ext = image_.extensions();
        std::erase_if(ext.all, [](const qcow2::RawExtension& e) { return e.type == qcow2::ext_bitmaps; });
        qcow2::BackingReference backing{image_.backing_name().value_or(""),
                                        image_.extensions().backing_format.value_or("")};
        auto bytes = qcow2::rewrite_header(h, ext, backing, qcow2::header_bytes_used(h, image_.extensions()));
        if (bytes) {
            out_.plan.flush("before dropping the stale bitmaps extension");
            out_.plan.write(0, std::move(*bytes), "header without the stale bitmaps extension");
            out_.plan.flush("after the header update");
        }
    }
    if (!(h.incompatible_features & clear) || anything_left())
        return;
    std::vector<uint8_t> field(8);
    util::store_be64(field, 0, h.incompatible_features & ~clear);
    // Last, once everything the bits warned about is consistent on disk.
    out_.plan.flush("before clearing the dirty/corrupt bits");
    out_.plan.write(72, std::move(field), "header incompatible_features (clear dirty/corrupt bits)");
    out_.plan.flush("after the header update");
}

} // namespace imgmend::repair
