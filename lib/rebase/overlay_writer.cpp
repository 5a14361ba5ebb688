#include "rebase/overlay_writer.hpp"

#include "qcow2/compressed.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <fmt/format.h>

#include <cassert>
#include <utility>

namespace imgmend::rebase {

using util::Errc;
using util::fail;

OverlayWriter::OverlayWriter(qcow2::Image& image, ClusterAllocator& allocator)
    : image_(image), g_(image.geometry()), allocator_(allocator), tables_(image.file())
{
}

Result<void> OverlayWriter::write_data(uint64_t offset, std::span<const uint8_t> bytes,
                                       const std::shared_ptr<const void>& owner)
{
    // Bounds on one write: its parts (IOV_MAX is 1024 on Linux), and the
    // mapped memory it keeps alive.
    constexpr size_t max_parts = 1024;
    constexpr uint64_t max_bytes = uint64_t{8} << 20;
    if (pending_.empty() || pending_offset_ + pending_bytes_ != offset || pending_.size() == max_parts ||
        pending_bytes_ + bytes.size() > max_bytes) {
        TRY(write_pending());
        pending_offset_ = offset;
    }
    if (!pending_.empty() && pending_.back().data() + pending_.back().size() == bytes.data())
        pending_.back() = std::span<const uint8_t>(pending_.back().data(), pending_.back().size() + bytes.size());
    else
        pending_.push_back(bytes);
    pending_bytes_ += bytes.size();
    if (owner && (pending_owners_.empty() || pending_owners_.back() != owner))
        pending_owners_.push_back(owner);
    return {};
}

Result<void> OverlayWriter::write_pending()
{
    if (pending_.empty())
        return {};
    // Written once and flushed right after: no need to keep it cached.
    auto done = image_.file().write_uncached(pending_offset_, pending_);
    pending_.clear();
    pending_owners_.clear();
    pending_bytes_ = 0;
    return done;
}

Result<std::vector<uint8_t>*> OverlayWriter::l2_for(uint64_t guest_cluster, uint64_t& entry_at)
{
    const uint64_t cs = g_.cluster_size;
    uint64_t l1_index = guest_cluster / g_.l2_entries;
    entry_at = guest_cluster % g_.l2_entries * g_.l2_entry_bytes;
    auto changed = l1_changes_.find(l1_index);
    uint64_t l1 = changed != l1_changes_.end() ? changed->second : image_.l1_entry(l1_index);
    uint64_t l2 = l1 & qcow2::offset_mask;
    if (auto it = new_l2_.find(l2); l2 != 0 && it != new_l2_.end())
        return &it->second;
    if (l2 == 0) {
        uint64_t fresh = allocator_.allocate();
        ++clusters_allocated_;
        l1_changes_[l1_index] = fresh | qcow2::oflag_copied;
        return &new_l2_.emplace(fresh, std::vector<uint8_t>(cs, 0)).first->second;
    }
    if (l2 % cs != 0)
        return fail(Errc::corrupt_metadata, "L2 table offset {:#x} unaligned (L1 index {}); repair the image first", l2,
                    l1_index);
    if (l1 & qcow2::oflag_copied)
        return TRY(tables_.table(l2, cs));
    // Shared with a snapshot: copy the table, so the snapshot keeps its own.
    // The data clusters keep their refcounts (each is still reached once
    // per L1 table), but are now shared: no COPIED flag.
    std::vector<uint8_t> copy(cs);
    TRY(image_.file().read_zero_padded(l2, copy));
    for (uint64_t j = 0; j < g_.l2_entries; ++j) {
        uint64_t raw = util::load_be64(copy, j * g_.l2_entry_bytes);
        if (!(raw & qcow2::oflag_compressed) && (raw & qcow2::offset_mask))
            util::store_be64(copy, j * g_.l2_entry_bytes, raw & ~qcow2::oflag_copied);
    }
    allocator_.add_reference(l2, -1);
    uint64_t fresh = allocator_.allocate();
    ++clusters_allocated_;
    l1_changes_[l1_index] = fresh | qcow2::oflag_copied;
    return &new_l2_.emplace(fresh, std::move(copy)).first->second;
}

Result<bool> OverlayWriter::write_compressed(const ClusterUpdate& u, uint64_t& raw)
{
    auto packed = TRY(qcow2::compress_cluster(image_.header().compression_type, u.data));
    if (packed.empty())
        return false;
    const uint64_t cs = g_.cluster_size;
    // Streams never cross a cluster boundary here; a stream that does not
    // fit the current cluster starts the next one.
    if (packed_cluster_ == 0 || packed_used_ + packed.size() > cs) {
        packed_cluster_ = allocator_.allocate();
        ++clusters_allocated_;
        packed_used_ = 0;
    } else {
        allocator_.add_reference(packed_cluster_);
    }
    uint64_t offset = packed_cluster_ + packed_used_;
    TRY(image_.file().write(offset, packed));
    packed_used_ += packed.size();
    uint64_t extra_sectors = (offset + packed.size() - 1) / 512 - offset / 512;
    raw = qcow2::oflag_compressed | offset | (extra_sectors << g_.csize_shift);
    ++compressed_;
    return true;
}

Result<void> OverlayWriter::apply(const ClusterUpdate& u)
{
    const uint64_t cs = g_.cluster_size;
    const uint64_t scs = g_.subcluster_size;
    uint64_t at = 0;
    std::vector<uint8_t>& table = *TRY(l2_for(u.guest_cluster, at));
    uint64_t raw = util::load_be64(table, at);
    uint64_t bitmap = g_.subclusters > 1 ? util::load_be64(table, at + 8) : 0;
    auto store = [&] {
        util::store_be64(table, at, raw);
        if (g_.subclusters > 1)
            util::store_be64(table, at + 8, bitmap);
    };
    if (u.compress && raw == 0 && bitmap == 0) {
        uint64_t compressed = 0;
        if (TRY(write_compressed(u, compressed))) {
            raw = compressed;
            store();
            return {};
        }
    }
    uint32_t write_mask = u.write_mask;
    uint32_t zero_mask = u.zero_mask;
    if (image_.header().version < 3 && g_.subclusters == 1) {
        write_mask |= zero_mask; // version 2 has no zero clusters: write the zeros
        zero_mask = 0;
    }
    if (write_mask == 0) {
        if (g_.subclusters == 1)
            raw |= qcow2::oflag_zero;
        else
            bitmap |= uint64_t{zero_mask} << 32;
        store();
        return {};
    }
    uint64_t host = raw & qcow2::offset_mask;
    bool ours = host != 0 && (raw & qcow2::oflag_copied) && host % cs == 0;
    if (!ours) {
        uint64_t fresh = allocator_.allocate();
        ++clusters_allocated_;
        if (host != 0) {
            // Copy-on-write: keep the subclusters this entry already holds.
            uint32_t held = static_cast<uint32_t>(bitmap & 0xffffffffull);
            for (uint32_t sc = 0; sc < g_.subclusters; ++sc) {
                if (!(held >> sc & 1))
                    continue;
                std::vector<uint8_t> piece(scs);
                TRY(image_.file().read_zero_padded(host + sc * scs, piece));
                TRY(image_.file().write(fresh + sc * scs, piece));
            }
            allocator_.add_reference(host, -1);
        }
        host = fresh;
    }
    // Runs of consecutive subclusters go out as one write each.
    for (uint32_t sc = 0; sc < g_.subclusters;) {
        if (!(write_mask >> sc & 1)) {
            ++sc;
            continue;
        }
        uint32_t end = sc;
        while (end < g_.subclusters && (write_mask >> end & 1))
            ++end;
        TRY(write_data(host + sc * scs, u.data.subspan(sc * scs, (end - sc) * scs), u.owner));
        sc = end;
    }
    raw = host | qcow2::oflag_copied;
    if (g_.subclusters > 1)
        bitmap = (bitmap | write_mask | (uint64_t{zero_mask} << 32)) & ~(uint64_t{write_mask} << 32);
    store();
    return {};
}

Result<void> OverlayWriter::plan_tables(io::Plan& plan)
{
    assert(pending_.empty() && "data is written and flushed before the tables are planned");
    for (auto& [offset, bytes] : new_l2_)
        plan.write(offset, bytes, fmt::format("new L2 table at {:#x}", offset));
    tables_.emit(plan, "L2 table");
    plan.flush("L2 tables before the L1 table points at them");
    const uint64_t cs = g_.cluster_size;
    const uint64_t l1 = image_.header().l1_table_offset;
    io::TableEditor l1_editor(image_.file());
    for (const auto& [index, entry] : l1_changes_) {
        uint64_t at = l1 + index * 8;
        uint64_t chunk = util::align_down(at, cs);
        std::vector<uint8_t>& bytes = *TRY(l1_editor.table(chunk, cs));
        util::store_be64(bytes, at - chunk, entry);
    }
    l1_editor.emit(plan, "L1 table");
    plan.flush("after L1 updates");
    return {};
}

} // namespace imgmend::rebase
