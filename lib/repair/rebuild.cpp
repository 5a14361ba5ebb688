// The refcount structure rebuild, used when the refcount table or blocks are
// damaged or a referenced cluster has refcount zero (its block may not
// exist). Every refcount is recomputed from the references; new blocks and a
// new table are placed in free clusters inside the file (first fit, never on
// a cluster holding a live or old structure, nor on a leaked cluster that may
// hold orphaned data); placement repeats until the table stops growing. The
// file grows only when nothing fits inside it, and a device that cannot grow
// then fails cleanly before anything is written.
//
// Crash safety: the new blocks and table go to free space and are flushed;
// only then do the header's 12 bytes (table offset and size, one sector)
// switch to them, and that is flushed. A crash before the switch leaves the
// old (damaged, but no worse) structure; after it, the new one.
#include "repair/planner.hpp"
#include "repair/unfollowed_references.hpp"

#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace imgmend::repair {

namespace {

// Was [offset, offset + size) counted by the check (not refused as beyond the file)?
bool counted_by_check(uint64_t offset, uint64_t size, uint64_t file_size, uint64_t cs)
{
    auto end = util::checked_add(offset, size);
    return size > 0 && end && !(*end > file_size && *end - file_size >= cs);
}

} // namespace

Result<void> Planner::rebuild_refcounts()
{
    out_.rebuild = true;
    const uint64_t cs = g_.cluster_size;
    const qcow2::Header& h = image_.header();
    io::BlockDevice& dev = image_.file();
    const uint64_t file_clusters = util::div_round_up(dev.size(), cs);
    const uint64_t per_block = g_.refblock_entries;

    // The old refcount structure: not counted in the new refcounts, and not
    // overwritten before the switch.
    std::vector<bool> old_structure(std::max(file_clusters, state_.counts.size()));
    uint64_t table_bytes = uint64_t{h.refcount_table_clusters} * cs;
    if (counted_by_check(h.refcount_table_offset, table_bytes, dev.size(), cs)) {
        for (uint64_t c = h.refcount_table_offset / cs; c <= (h.refcount_table_offset + table_bytes - 1) / cs; ++c) {
            adjust_[c] -= 1;
            if (c < old_structure.size())
                old_structure[c] = true;
        }
    }
    for (uint64_t t = 0; t < state_.reftable.size(); ++t) {
        uint64_t entry = state_.reftable[t];
        uint64_t block = entry & refcount::reftable_offset_mask;
        if (block == 0 || (entry & 0x1ff) || block % cs != 0)
            continue;
        if (block / cs < state_.counts.size())
            adjust_[block / cs] -= 1; // counted by check_refcount_blocks
        if (block / cs < old_structure.size())
            old_structure[block / cs] = true;
    }

    // Refcounts higher than the references: lowered, unless some reference
    // could not be followed (then the cluster may be in use, even hold the
    // only copy of data) — such clusters keep their refcount.
    bool keep_orphans = pointer_corruptions();
    check::ClusterValues kept(g_.refcount_order, state_.counts.size());
    if (keep_orphans) {
        state_.on_disk_mismatches.for_each([&](uint64_t c, uint64_t disk) {
            bool old = c < old_structure.size() && old_structure[c];
            if (disk > expected(c) && !old)
                kept.set(c, disk);
        });
    }

    // Where references the check could not follow (reaching a cluster or
    // more past the end of the file) point: never a place for the new
    // structure, inside the file or past its end — the guest would read it.
    const UnfollowedReferences unfollowed(state_.references_beyond_end);
    uint64_t limit = std::max(file_clusters, state_.counts.size());
    std::vector<bool> taken(limit);
    // What the placement loop asks about every cluster, computed once (on a
    // 1 TiB image it asks about 16 million clusters several times).
    std::vector<bool> in_use(limit), busy(limit);
    for (uint64_t c = 0; c < limit; ++c) {
        in_use[c] = expected(c) > 0 || kept.contains(c);
        busy[c] = in_use[c] || (c < old_structure.size() && old_structure[c]) || on_disk(c) > 0 ||
                  unfollowed.covers(c);
    }
    auto used = [&](uint64_t c) {
        if (c < limit)
            return taken[c] || in_use[c];
        return (c < taken.size() && taken[c]) || expected(c) > 0 || kept.contains(c);
    };
    auto occupied = [&](uint64_t c) {
        if (c < limit)
            return taken[c] || busy[c];
        return used(c) || (c < old_structure.size() && old_structure[c]) || on_disk(c) > 0;
    };
    bool can_grow = dev.can_resize();
    uint64_t end_cursor = limit; // clusters appended past the end of the file
    // Past the end, not far past it to get round such references either.
    const uint64_t max_skip = std::max<uint64_t>(16, (64ull << 20) / cs);
    auto clear_from = [&](uint64_t n) -> Result<uint64_t> {
        auto at = unfollowed.next_clear(end_cursor, n, max_skip);
        if (!at)
            return util::fail(util::Errc::no_space,
                              "the rebuilt refcount structure would have to go past the end of '{}', where references "
                              "the check could not follow point; it is not grown that far for them",
                              dev.name());
        return *at;
    };
    uint64_t free_cursor = 0;
    auto grow_to = [&](uint64_t c) {
        if (c >= taken.size())
            taken.resize(c + 1);
    };
    auto take_one = [&]() -> Result<uint64_t> {
        while (free_cursor < file_clusters && occupied(free_cursor))
            ++free_cursor;
        if (free_cursor < file_clusters) {
            taken[free_cursor] = true;
            return free_cursor++;
        }
        if (!can_grow)
            return util::fail(util::Errc::no_space,
                              "no free cluster left inside '{}' for the rebuilt refcount structure, and it cannot grow",
                              dev.name());
        end_cursor = TRY(clear_from(1));
        grow_to(end_cursor);
        taken[end_cursor] = true;
        return end_cursor++;
    };
    auto take_run = [&](uint64_t n) -> Result<uint64_t> {
        uint64_t run = 0;
        for (uint64_t c = 0; c < file_clusters; ++c) {
            run = occupied(c) ? 0 : run + 1;
            if (run == n) {
                for (uint64_t k = c + 1 - n; k <= c; ++k)
                    taken[k] = true;
                return c + 1 - n;
            }
        }
        if (!can_grow)
            return util::fail(util::Errc::no_space,
                              "no room for a {}-cluster refcount table inside '{}', and it cannot grow", n, dev.name());
        uint64_t start = TRY(clear_from(n));
        end_cursor = start + n;
        grow_to(end_cursor - 1);
        for (uint64_t k = start; k < end_cursor; ++k)
            taken[k] = true;
        return start;
    };

    std::map<uint64_t, uint64_t> blocks; // refcount table index -> block cluster
    std::optional<uint64_t> table_start;
    uint64_t table_clusters = 0;
    // Each round either adds a block or grows the table; both are bounded by
    // the (finite) number of clusters, so this ends.
    for (;;) {
        bool changed = false;
        uint64_t highest = 0;
        for (uint64_t c = end_cursor; c-- > 0;) {
            if (used(c)) {
                highest = c;
                break;
            }
        }
        for (uint64_t t = 0; t <= highest / per_block; ++t) {
            if (blocks.count(t))
                continue;
            for (uint64_t c = t * per_block; c < std::min(end_cursor, (t + 1) * per_block); ++c) {
                if (!used(c))
                    continue;
                blocks[t] = TRY(take_one());
                changed = true;
                break;
            }
        }
        uint64_t need = util::div_round_up((blocks.rbegin()->first + 1) * 8, cs);
        if (!table_start || need > table_clusters) {
            if (table_start) // give the old placement back and look again
                for (uint64_t k = *table_start; k < *table_start + table_clusters; ++k)
                    taken[k] = false;
            table_clusters = need;
            table_start = TRY(take_run(table_clusters));
            changed = true;
        }
        if (!changed)
            break;
    }

    auto final_value = [&](uint64_t c) {
        uint64_t value = (c < taken.size() && taken[c]) ? 1 : expected(c);
        if (auto k = kept.find(c))
            value = std::max(value, *k);
        return std::min(value, refcount::max_refcount(g_.refcount_order));
    };
    // Everywhere else the new refcount is the count the check made (and
    // equals the on-disk one): only these clusters need a closer look — the
    // on-disk mismatches and kept orphans (found in order, however many),
    // and the few below.
    std::vector<uint64_t> special;
    for (const auto& [c, delta] : adjust_.all())
        special.push_back(c);
    for (const auto& [t, cluster] : blocks)
        special.push_back(cluster);
    for (uint64_t k = *table_start; k < *table_start + table_clusters; ++k)
        special.push_back(k);
    std::sort(special.begin(), special.end());
    special.erase(std::unique(special.begin(), special.end()), special.end());

    // Write the blocks and the table into free space, then switch.
    for (const auto& [t, cluster] : blocks) {
        std::vector<uint8_t> block(cs, 0);
        uint64_t first = t * per_block, end = std::min((t + 1) * per_block, end_cursor);
        for (uint64_t c = first; c < std::min(end, state_.counts.size()); ++c)
            refcount::set_entry(block, g_.refcount_order, c - first, state_.counts.get(c));
        auto settle = [&](uint64_t c) { // idempotent: a cluster may be in more than one list
            uint64_t value = final_value(c);
            refcount::set_entry(block, g_.refcount_order, c - first, value);
            if (value != on_disk(c))
                new_refcount_.set(c, value);
        };
        for (auto it = std::lower_bound(special.begin(), special.end(), first); it != special.end() && *it < end;
             ++it)
            settle(*it);
        for (const check::ClusterValues* list : {&state_.on_disk_mismatches, &kept})
            for (uint64_t c = list->next(first, end); c != check::ClusterValues::none; c = list->next(c + 1, end))
                settle(c);
        out_.plan.write(cluster * cs, std::move(block), fmt::format("new refcount block {}", t));
    }
    std::vector<uint8_t> table(table_clusters * cs, 0);
    for (const auto& [t, cluster] : blocks)
        util::store_be64(table, t * 8, cluster * cs);
    out_.plan.write(*table_start * cs, std::move(table), "new refcount table");
    out_.plan.flush("new refcount structure on disk before the switch");
    std::vector<uint8_t> header(12);
    util::store_be64(header, 0, *table_start * cs);
    util::store_be32(header, 8, static_cast<uint32_t>(table_clusters));
    out_.plan.write(48, std::move(header), "header refcount_table_offset and refcount_table_clusters");
    out_.plan.flush("after switching to the new refcount table");

    // Counted as qemu counts a rebuild (observed with qemu-img 7.2): the
    // corruptions of the reference count (everything but OFLAG_COPIED) that
    // a count over the new structure no longer finds. Those are the refcount
    // mismatches and whatever was wrong with the old structure itself: its
    // refcount block entries, and the table reaching past the end of the
    // file. A damaged pointer elsewhere is found again, so not fixed. Every
    // leak is fixed (kept orphans aside).
    // By kind, so that findings the report counts but does not list count too.
    using check::FindingKind;
    const check::CheckReport& r = state_.report;
    out_.corruptions_fixed += r.count(FindingKind::refcount_too_low) + r.count(FindingKind::refblock_reserved_bits) +
                              r.count(FindingKind::refblock_unaligned) + r.count(FindingKind::refblock_outside_image) +
                              r.count(FindingKind::refblock_refcount);
    if (table_bytes > 0 && !counted_by_check(h.refcount_table_offset, table_bytes, dev.size(), cs))
        ++out_.corruptions_fixed; // the check's "beyond the end of the file" for the table itself
    // A leak finding is a cluster whose on-disk refcount exceeds the count.
    uint64_t kept_leaks = 0;
    kept.for_each([&](uint64_t c, uint64_t disk) { kept_leaks += c < state_.counts.size() && disk > state_.counts.get(c); });
    out_.leaks_fixed += r.count(FindingKind::refcount_too_high) - kept_leaks;
    // Old refcount blocks and table are free after the switch.
    for (uint64_t c = 0; c < old_structure.size(); ++c)
        if (old_structure[c] && !used(c) && c < file_clusters)
            freed_.add(c);
    return {};
}

} // namespace imgmend::repair
