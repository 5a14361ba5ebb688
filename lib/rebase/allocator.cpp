#include "rebase/allocator.hpp"

#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <fmt/format.h>

namespace imgmend::rebase {

using util::Errc;
using util::fail;

ClusterAllocator::ClusterAllocator(qcow2::Image& image)
    : image_(image), g_(image.geometry()),
      end_(util::align_up(image.file().size(), image.geometry().cluster_size).value_or(image.file().size()))
{
}

uint64_t ClusterAllocator::allocate()
{
    uint64_t offset = end_;
    end_ += g_.cluster_size;
    deltas_[offset / g_.cluster_size] += 1;
    return offset;
}

void ClusterAllocator::add_reference(uint64_t cluster_offset, int64_t delta)
{
    deltas_[cluster_offset / g_.cluster_size] += delta;
}

Result<void> ClusterAllocator::plan_refcounts(io::Plan& plan)
{
    const uint64_t cs = g_.cluster_size;
    const uint64_t per_block = g_.refblock_entries;
    io::BlockDevice& dev = image_.file();
    const qcow2::Header& h = image_.header();
    std::vector<uint64_t> table = TRY(refcount::read_refcount_table(dev, h));
    const uint64_t capacity = uint64_t{h.refcount_table_clusters} * cs / 8;
    table.resize(capacity, 0);

    // New blocks for ranges without one; a new block's own cluster may land
    // in yet another range without one, so repeat until every range that
    // gains references has a block. Each round allocates at most one block
    // per new range and the end of file only moves forward, so this ends.
    std::map<uint64_t, uint64_t> new_blocks; // table index -> block offset
    auto ensure_blocks = [&] {
        for (bool changed = true; changed;) {
            changed = false;
            for (const auto& [c, delta] : std::map<uint64_t, int64_t>(deltas_)) {
                uint64_t t = c / per_block;
                uint64_t existing = t < table.size() ? table[t] & refcount::reftable_offset_mask : 0;
                if (existing != 0 || new_blocks.count(t) || delta <= 0)
                    continue;
                new_blocks[t] = allocate();
                changed = true;
            }
        }
    };
    auto highest_range = [&] { return deltas_.empty() ? 0 : deltas_.rbegin()->first / per_block; };
    ensure_blocks();
    std::optional<uint64_t> new_table;
    uint64_t new_table_clusters = h.refcount_table_clusters;
    if (highest_range() >= capacity) {
        // Twice the room needed (plus slack), so a long run of allocations
        // does not move the table each time and its own blocks fit.
        uint64_t entries = (highest_range() + 1) * 2 + 64;
        new_table_clusters = util::div_round_up(entries * 8, cs);
        if (new_table_clusters * cs > (8ull << 20))
            return fail(Errc::out_of_range, "the refcount table would exceed qemu's 8 MiB limit");
        new_table = end_;
        for (uint64_t k = 0; k < new_table_clusters; ++k)
            allocate();
        ensure_blocks();
        if (highest_range() >= new_table_clusters * cs / 8)
            return fail(Errc::no_space, "the new refcount table is too small for its own blocks");
    }
    for (const auto& [t, off] : new_blocks)
        if (t >= table.size())
            table.resize(t + 1, 0);

    // Blocks: new ones written whole, existing ones edited in place.
    io::TableEditor editor(dev);
    std::map<uint64_t, std::vector<uint8_t>> fresh;
    for (const auto& [t, off] : new_blocks)
        fresh[t] = std::vector<uint8_t>(cs, 0);
    for (const auto& [c, delta] : deltas_) {
        if (delta == 0)
            continue;
        uint64_t t = c / per_block;
        std::vector<uint8_t>* block = nullptr;
        if (auto it = fresh.find(t); it != fresh.end())
            block = &it->second;
        else {
            uint64_t off = table[t] & refcount::reftable_offset_mask;
            if (off % cs != 0)
                return fail(Errc::corrupt_metadata, "refcount table entry {} is not aligned; run imgmend-repair", t);
            block = TRY(editor.table(off, cs));
        }
        uint64_t old = refcount::get_entry(*block, g_.refcount_order, c % per_block);
        int64_t value = static_cast<int64_t>(old) + delta;
        if (value < 0 || static_cast<uint64_t>(value) > refcount::max_refcount(g_.refcount_order))
            return fail(Errc::corrupt_metadata, "refcount of cluster {} would leave its range ({} {:+})", c, old,
                        delta);
        refcount::set_entry(*block, g_.refcount_order, c % per_block, static_cast<uint64_t>(value));
    }
    for (auto& [t, bytes] : fresh)
        plan.write(new_blocks[t], std::move(bytes), fmt::format("new refcount block {}", t));
    editor.emit(plan, "refcount block");
    plan.flush("refcounts before the table points at new blocks");

    for (const auto& [t, off] : new_blocks)
        table[t] = off;
    if (new_table) {
        std::vector<uint8_t> bytes(new_table_clusters * cs, 0);
        for (uint64_t t = 0; t < table.size(); ++t)
            util::store_be64(bytes, t * 8, table[t]);
        plan.write(*new_table, std::move(bytes), "new refcount table");
        plan.flush("new refcount table before the header switch");
        std::vector<uint8_t> header(12);
        util::store_be64(header, 0, *new_table);
        util::store_be32(header, 8, static_cast<uint32_t>(new_table_clusters));
        plan.write(48, std::move(header), "header refcount table offset and size");
        moved_table_ = std::make_pair(*new_table, static_cast<uint32_t>(new_table_clusters));
        plan.flush("after the refcount table switch");
        // The old table's clusters are free now.
        for (uint64_t k = 0; k < h.refcount_table_clusters; ++k) {
            uint64_t c = h.refcount_table_offset / cs + k;
            uint64_t t = c / per_block;
            uint64_t off = table[t] & refcount::reftable_offset_mask;
            if (off == 0 || new_blocks.count(t))
                continue;
            std::vector<uint8_t>& block = *TRY(editor.table(off, cs));
            refcount::set_entry(block, g_.refcount_order, c % per_block, 0);
        }
        editor.emit(plan, "refcount block (old table freed)");
    } else {
        io::TableEditor table_editor(dev);
        for (const auto& [t, off] : new_blocks) {
            uint64_t at = h.refcount_table_offset + t * 8;
            uint64_t chunk = util::align_down(at, cs);
            std::vector<uint8_t>& bytes = *TRY(table_editor.table(chunk, cs));
            util::store_be64(bytes, at - chunk, off);
        }
        table_editor.emit(plan, "refcount table");
    }
    plan.flush("after refcount updates");
    return {};
}

} // namespace imgmend::rebase
