// The snapshot table rewrite. What is kept is what qemu-img check -r all
// keeps (snapshot_table.hpp); where it goes and in which order is ours.
//
// Crash safety: the new table goes to free clusters whose refcounts are
// raised first, and both are flushed; only then do the header's 12 bytes
// (nb_snapshots and snapshots_offset, one sector) switch to it, and that is
// flushed; only then is the old table's refcount lowered. A crash before the
// switch leaves the old (damaged, but no worse) table and at most leaked new
// clusters; after it, the new table and at most a leaked old one. The old
// table's clusters are never reused before the switch.
#include "repair/snapshot_fix.hpp"

#include "repair/planner.hpp"

#include "io/table_editor.hpp"
#include "qcow2/limits.hpp"
#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"
#include "repair/snapshot_table.hpp"
#include "repair/unfollowed_references.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace imgmend::repair {

namespace {

class SnapshotFixPlanner {
public:
    SnapshotFixPlanner(qcow2::Image& image, const check::CheckState& state)
        : image_(image), state_(state), g_(image.geometry()), cs_(g_.cluster_size),
          reader_(image.file(), image.geometry(), state.reftable)
    {
    }
    Result<SnapshotFix> run();

private:
    SnapshotFix refuse(std::string why)
    {
        SnapshotFix fix;
        fix.refused = fmt::format("left alone: the snapshot table at {:#x}: {}", image_.header().snapshots_offset, why);
        return fix;
    }
    uint64_t on_disk(uint64_t c)
    {
        if (auto disk = state_.on_disk_mismatches.find(c))
            return *disk;
        if (c < state_.counts.size())
            return state_.counts.get(c);
        auto r = reader_.refcount(c);
        return r ? *r : ~uint64_t{0}; // unreadable: never free
    }
    uint64_t counted(uint64_t c) const { return c < state_.counts.size() ? state_.counts.get(c) : 0; }
    bool conflict(uint64_t c) const
    {
        return std::binary_search(state_.conflicts.begin(), state_.conflicts.end(), c);
    }
    // The refcount block holding cluster c's refcount, if it can be edited.
    std::optional<uint64_t> block_of(uint64_t c) const
    {
        uint64_t t = c / g_.refblock_entries;
        if (t >= state_.reftable.size())
            return std::nullopt;
        uint64_t entry = state_.reftable[t];
        uint64_t block = entry & refcount::reftable_offset_mask;
        if (block == 0 || (entry & 0x1ff) || block % cs_ != 0 || !util::range_within(block, cs_, image_.file().size()))
            return std::nullopt;
        return block;
    }
    std::optional<uint64_t> place(uint64_t clusters, uint64_t old_first, uint64_t old_last);

    qcow2::Image& image_;
    const check::CheckState& state_;
    const qcow2::Geometry& g_;
    const uint64_t cs_;
    refcount::RefcountReader reader_;
};

// First fit: `clusters` contiguous clusters that nothing uses or counts,
// with a refcount block to record them in, never the old table's; past the
// end of the file only if it can grow.
std::optional<uint64_t> SnapshotFixPlanner::place(uint64_t clusters, uint64_t old_first, uint64_t old_last)
{
    io::BlockDevice& dev = image_.file();
    uint64_t file_clusters = util::div_round_up(dev.size(), cs_);
    uint64_t limit = dev.can_resize() ? std::max(file_clusters, state_.counts.size()) + clusters : file_clusters;
    std::vector<uint64_t> unreadable = state_.unreadable;
    std::sort(unreadable.begin(), unreadable.end());
    // Never where a reference the check could not follow points: the guest
    // would read the table there.
    const UnfollowedReferences unfollowed(state_.references_beyond_end);
    uint64_t run = 0;
    for (uint64_t c = 1; c < limit; ++c) {
        // Past the end of the file a refcount means nothing (qemu ignores
        // it; an interrupted repair may have left one): only coverage counts.
        bool is_free = !(c >= old_first && c <= old_last) && counted(c) == 0 &&
                       (c >= file_clusters || on_disk(c) == 0) &&
                       !std::binary_search(unreadable.begin(), unreadable.end(), c) && !unfollowed.covers(c) &&
                       block_of(c);
        run = is_free ? run + 1 : 0;
        if (run == clusters)
            return c + 1 - clusters;
    }
    return std::nullopt;
}

Result<SnapshotFix> SnapshotFixPlanner::run()
{
    const qcow2::Header& h = image_.header();
    if (state_.rebuild_needed)
        return refuse("it is rewritten only once the refcount structure is sound; run -r all again after this repair");
    auto salvaged = salvage_snapshot_table(image_.file(), h);
    if (!salvaged)
        return refuse(fmt::format("{}; which snapshots it holds is not certain", salvaged.error().message));
    if (salvaged->corruptions() == 0)
        return SnapshotFix{};

    // The old table as qemu's check sees it after the salvage: the kept
    // entries as read. (Clusters past that, holding only dropped entries,
    // are leaks to the rest of the repair, as they are to qemu.)
    uint64_t old_first = 1, old_last = 0;
    if (salvaged->parsed_bytes > 0) {
        old_first = h.snapshots_offset / cs_;
        old_last = (h.snapshots_offset + salvaged->parsed_bytes - 1) / cs_;
    }
    // What the check counted for the old table (only if it could read it).
    uint64_t counted_bytes = state_.snapshots ? state_.snapshots->total_bytes : 0;
    for (uint64_t c = old_first; c <= old_last; ++c) {
        bool own = counted_bytes > 0 && c * cs_ < h.snapshots_offset + counted_bytes;
        if (conflict(c) || counted(c) > (own ? 1u : 0u))
            return refuse(fmt::format("it shares cluster {} (host offset {:#x}) with other metadata or data", c,
                                      c * cs_));
    }

    std::vector<uint8_t> table = serialize_snapshot_table(*salvaged, h.size);
    if (table.size() > qcow2::max_snapshot_table_bytes)
        return refuse("written back it would exceed qemu's 64 MiB");
    uint64_t clusters = util::div_round_up(table.size(), cs_);
    uint64_t new_offset = 0;
    if (clusters > 0) {
        auto at = place(clusters, old_first, old_last);
        if (!at)
            return refuse(fmt::format("no {} free clusters covered by a refcount block for the new table", clusters));
        new_offset = *at * cs_;
    }

    SnapshotFix fix;
    fix.planned = true;
    fix.corruptions_fixed = salvaged->corruptions();
    if (salvaged->dropped_too_many)
        fix.notes.push_back(fmt::format("Discarding {} overhanging snapshots", salvaged->dropped_too_many));
    for (size_t i = 0; i < salvaged->kept.size(); ++i) {
        const SalvagedSnapshot& s = salvaged->kept[i];
        if (s.extra.size() < s.extra_data_size)
            fix.notes.push_back(fmt::format("Discarding too much extra metadata in snapshot table entry {} ({} > {}); "
                                            "as qemu, its id and name are read after all of it: id '{}', name '{}'",
                                            i, s.extra_data_size, qcow2::max_snapshot_extra, s.id, s.name));
        if (s.incomplete)
            fix.notes.push_back(fmt::format("Repairing snapshot table entry {} is incomplete", i));
    }
    if (salvaged->dropped_too_big)
        fix.notes.push_back(fmt::format("Discarding {} overhanging snapshots (snapshot table is too big)",
                                        salvaged->dropped_too_big));
    fix.notes.push_back(fmt::format("snapshot table of {} entries written at {:#x} (was {} entries at {:#x}); the "
                                    "clusters only dropped snapshots used are freed as leaks",
                                    salvaged->kept.size(), new_offset, h.nb_snapshots, h.snapshots_offset));

    io::Plan& plan = fix.plan;
    io::TableEditor refblocks(image_.file());
    for (uint64_t c = new_offset / cs_; c < new_offset / cs_ + clusters; ++c) {
        std::vector<uint8_t>& block = *TRY(refblocks.table(*block_of(c), cs_));
        refcount::set_entry(block, g_.refcount_order, c % g_.refblock_entries, 1);
    }
    refblocks.emit(plan, "refcount block (new snapshot table)");
    table.resize(clusters * cs_, 0);
    if (clusters > 0)
        plan.write(new_offset, std::move(table), fmt::format("new snapshot table ({} entries)", salvaged->kept.size()));
    plan.flush("new snapshot table on disk before the switch");
    std::vector<uint8_t> header(12);
    util::store_be32(header, 0, static_cast<uint32_t>(salvaged->kept.size()));
    util::store_be64(header, 4, new_offset);
    plan.write(60, std::move(header), "header nb_snapshots and snapshots_offset");
    plan.flush("after switching to the new snapshot table");

    // The old table's own reference goes (a refcount of 0 on a table the
    // check could not read was never counted: left as it is).
    FreedRuns freed(cs_);
    for (uint64_t c = old_first; c <= old_last; ++c) {
        uint64_t rc = on_disk(c);
        auto block = block_of(c);
        if (rc == 0 || rc == ~uint64_t{0} || !block)
            continue;
        std::vector<uint8_t>& bytes = *TRY(refblocks.table(*block, cs_));
        refcount::set_entry(bytes, g_.refcount_order, c % g_.refblock_entries, rc - 1);
        if (rc == 1 && c * cs_ < image_.file().size())
            freed.add(c);
    }
    refblocks.emit(plan, "refcount block (old snapshot table)");
    plan.flush("old snapshot table freed");
    plan_discards(plan, freed, cs_, image_.file().size(), "old snapshot table");
    return fix;
}

} // namespace

Result<SnapshotFix> plan_snapshot_table_fix(qcow2::Image& image, const check::CheckState& state)
{
    if (state.report.count(check::FindingKind::snapshot_table_damaged) == 0)
        return SnapshotFix{};
    SnapshotFixPlanner planner(image, state);
    return planner.run();
}

} // namespace imgmend::repair
