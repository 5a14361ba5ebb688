// The comparison passes: counted references against on-disk refcounts, and
// OFLAG_COPIED against on-disk refcounts, as qemu-img check does them.
#include "check/checker.hpp"

#include "io/read_ahead.hpp"
#include "qcow2/l2_entry.hpp"
#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <map>
#include <fmt/format.h>

namespace imgmend::check {

namespace {

// Whether a refcount block of `n` big-endian entries of Width bytes holds
// exactly the byte-wide counts (none of them kept aside: ClusterCounts::
// escape never agrees). Byte operations only, with no early exit, so the
// compiler turns it into vector code: this runs over every cluster.
template <unsigned Width>
bool block_agrees(const uint8_t* block, const uint8_t* counted, uint64_t n)
{
    uint8_t differ = 0;
    for (uint64_t k = 0; k < n; ++k) {
        const uint8_t* e = block + k * Width;
        uint8_t d = e[Width - 1] ^ counted[k]; // the low byte, last in big endian
        for (unsigned w = 0; w + 1 < Width; ++w)
            d |= e[w]; // the high bytes are zero
        if constexpr (Width > 1)
            d |= counted[k] == ClusterCounts::escape;
        differ |= d;
    }
    return differ == 0;
}

} // namespace

Result<uint64_t> Checker::on_disk_refcount(uint64_t cluster)
{
    if (cluster < counts_.size() && !(cluster < disagrees_.size() && disagrees_.test(cluster)))
        return counts_.get(cluster); // the common case: it agreed
    if (std::binary_search(unreadable_.begin(), unreadable_.end(), cluster))
        return util::fail(util::Errc::corrupt_metadata, "refcount of cluster {} is unreadable", cluster);
    if (cluster < counts_.size()) {
        auto disk = mismatches_.find(cluster);
        return disk ? *disk : counts_.get(cluster);
    }
    uint64_t t = cluster / geometry_.refblock_entries;
    if (t >= reftable_.size())
        return 0;
    uint64_t block = reftable_[t] & refcount::reftable_offset_mask;
    if (block == 0)
        return 0;
    if (block % geometry_.cluster_size != 0)
        return util::fail(util::Errc::corrupt_metadata, "refcount block {} is unreadable", t);
    if (block != cached_block_offset_ || cached_block_.empty()) {
        cached_block_.resize(geometry_.cluster_size);
        TRY(dev_.read_zero_padded(block, cached_block_));
        cached_block_offset_ = block;
    }
    return refcount::get_entry(cached_block_, geometry_.refcount_order, cluster % geometry_.refblock_entries);
}

void Checker::record_mismatch(uint64_t i, uint64_t on_disk, uint64_t counted)
{
    mismatches_.set(i, on_disk);
    disagrees_.set(i);
    if (on_disk == 0)
        rebuild_needed_ = true; // its refcount block may not even exist
    bool leak = on_disk > counted;
    Finding f{leak ? FindingKind::refcount_too_high : FindingKind::refcount_too_low,
              leak ? Severity::leak : Severity::corruption, leak ? Repair::leaks : Repair::all,
              fmt::format("{} cluster {} refcount={} reference={}", leak ? "Leaked" : "ERROR", i, on_disk, counted)};
    f.cluster = i;
    f.host_offset = i * geometry_.cluster_size;
    f.refcount = on_disk;
    f.references = counted;
    report_.add(std::move(f));
}

Result<void> Checker::compare_refcounts()
{
    const uint64_t cs = geometry_.cluster_size;
    const uint64_t per_block = geometry_.refblock_entries;
    const uint64_t clusters = counts_.size();
    disagrees_ = ClusterBits(clusters);
    mismatches_ = ClusterValues(geometry_.refcount_order, clusters);
    uint64_t highest = 0;
    const std::vector<uint8_t> no_block(cs); // an absent block: all refcounts zero
    // The blocks, read ahead on another thread while this one compares.
    std::vector<uint64_t> readable;
    for (uint64_t t = 0; t * per_block < clusters && t < reftable_.size(); ++t)
        if (uint64_t b = reftable_[t] & refcount::reftable_offset_mask; b != 0 && b % cs == 0) {
            dev_.will_need(b, cs);
            readable.push_back(b);
        }
    io::ReadAhead blocks(dev_, std::move(readable), cs);
    for (uint64_t first = 0; first < clusters; first += per_block) {
        uint64_t t = first / per_block;
        uint64_t last = std::min(clusters, first + per_block);
        uint64_t offset = t < reftable_.size() ? reftable_[t] & refcount::reftable_offset_mask : 0;
        // qemu cannot read an unaligned block; one past the end of the file reads as zeros.
        bool unreadable = offset != 0 && offset % cs != 0;
        std::span<const uint8_t> block = no_block;
        if (offset != 0 && !unreadable)
            block = TRY(blocks.next());
        if (unreadable) {
            for (uint64_t i = first; i < last; ++i) {
                Finding f{FindingKind::refcount_unreadable, Severity::check_error, Repair::all,
                          fmt::format("Can't get refcount for cluster {}: Input/output error", i)};
                f.cluster = i;
                f.host_offset = i * cs;
                report_.add(std::move(f));
                unreadable_.push_back(i);
                disagrees_.set(i);
            }
        } else {
            // The hot loop of the whole check: one instance per refcount
            // width so each entry costs a load and a compare.
            auto compare = [&]<uint32_t Order>() {
                const uint8_t* b = block.data();
                auto entry = [b](uint64_t k) -> uint64_t {
                    if constexpr (Order < 3)
                        return (b[(k << Order) / 8] >> ((k << Order) % 8)) & ((1u << (1u << Order)) - 1);
                    else if constexpr (Order == 3)
                        return b[k];
                    else if constexpr (Order == 4)
                        return boost::endian::load_big_u16(b + k * 2);
                    else if constexpr (Order == 5)
                        return boost::endian::load_big_u32(b + k * 4);
                    else
                        return boost::endian::load_big_u64(b + k * 8);
                };
                if constexpr (Order >= 3) {
                    // Counts of a byte each: first a branch-free (vectorised)
                    // pass that only asks whether the whole block agrees.
                    const uint8_t* counted = counts_.bytes() + first;
                    const uint64_t n = last - first;
                    if (block_agrees<(1u << Order) / 8>(b, counted, n)) {
                        for (uint64_t k = n; k-- > 0;)
                            if (counted[k] != 0) {
                                highest = first + k;
                                break;
                            }
                        return;
                    }
                }
                for (uint64_t i = first; i < last; ++i) {
                    uint64_t on_disk = entry(i - first);
                    uint64_t counted = counts_.get(i);
                    if ((on_disk | counted) != 0)
                        highest = i;
                    if (on_disk != counted)
                        record_mismatch(i, on_disk, counted);
                }
            };
            switch (geometry_.refcount_order) {
            case 0: compare.operator()<0>(); break;
            case 1: compare.operator()<1>(); break;
            case 2: compare.operator()<2>(); break;
            case 3: compare.operator()<3>(); break;
            case 4: compare.operator()<4>(); break;
            case 5: compare.operator()<5>(); break;
            default: compare.operator()<6>(); break;
            }
        }
        if (options_.progress)
            options_.progress(last, clusters, "refcounts");
    }
    report_.image_end_offset = (highest + 1) * cs;
    return {};
}

Result<void> Checker::check_copied_flags(CopiedScope scope)
{
    const qcow2::Geometry& g = geometry_;
    const qcow2::Header& h = image_.header();
    bool data_file = h.has_data_file();
    std::vector<uint8_t> table(g.cluster_size);
    for (uint64_t i = 0; i < h.l1_size; ++i) {
        uint64_t l1 = image_.l1_entry(i);
        uint64_t l2_offset = l1 & qcow2::offset_mask;
        if (l2_offset == 0)
            continue;
        auto refcount = on_disk_refcount(l2_offset / g.cluster_size);
        if (!refcount)
            continue; // qemu neither prints nor counts this
        if ((*refcount == 1) != ((l1 & qcow2::oflag_copied) != 0)) {
            Finding f{FindingKind::copied_l1_mismatch, Severity::corruption, Repair::all,
                      fmt::format("ERROR OFLAG_COPIED L2 cluster: l1_index={} l1_entry={:x} refcount={}", i, l1,
                                  *refcount)};
            f.l1_index = i;
            f.host_offset = h.l1_table_offset + i * 8;
            f.cluster = l2_offset / g.cluster_size;
            f.refcount = *refcount;
            report_.add(std::move(f));
        }
        if (scope == CopiedScope::l1_only)
            continue;
        if (!dev_.read_zero_padded(l2_offset, table)) {
            Finding f{FindingKind::table_unreadable, Severity::check_error, Repair::none,
                      "ERROR: Could not read L2 table: Input/output error"};
            f.host_offset = l2_offset;
            report_.add(std::move(f));
            return {};
        }
        for (uint64_t j = 0; j < g.l2_entries; ++j) {
            uint64_t raw = util::load_be64(table, j * g.l2_entry_bytes);
            if (raw & qcow2::oflag_compressed)
                continue;
            uint64_t data = raw & qcow2::offset_mask;
            bool allocated = data != 0 || (data_file && (raw & qcow2::oflag_copied));
            if (!allocated)
                continue;
            uint64_t rc = 1;
            if (!data_file) {
                auto r = on_disk_refcount(data / g.cluster_size);
                if (!r)
                    continue;
                rc = *r;
            }
            if ((rc == 1) == ((raw & qcow2::oflag_copied) != 0))
                continue;
            Finding f{FindingKind::copied_l2_mismatch, Severity::corruption, Repair::all,
                      fmt::format("ERROR OFLAG_COPIED data cluster: l2_entry={:x} refcount={}", raw, rc)};
            f.l1_index = i;
            f.l2_index = j;
            f.guest_offset = (i * g.l2_entries + j) * g.cluster_size;
            f.host_offset = l2_offset + j * g.l2_entry_bytes;
            f.cluster = data / g.cluster_size;
            f.refcount = rc;
            report_.add(std::move(f));
        }
    }
    return {};
}

void Checker::attribute_owners()
{
    // Only for a bounded number of refcount findings: this walks the tables
    // a second time.
    constexpr size_t max_attributed = 100000;
    // Every user of each such cluster (up to a few), in walk order.
    constexpr size_t max_users = 4;
    std::unordered_map<uint64_t, std::vector<Role>> owners;
    for (const Finding& f : report_.findings)
        if ((f.kind == FindingKind::refcount_too_low || f.kind == FindingKind::refcount_too_high) && f.cluster &&
            owners.size() < max_attributed)
            owners.emplace(*f.cluster, std::vector<Role>{});
    if (owners.empty())
        return;
    // The walk offers every reference of the image (16 M on a 1 TiB disk):
    // a bit per cluster answers most of them, and a reference spanning many
    // clusters (a hostile table size) costs a search in the sorted list,
    // not a step per cluster.
    ClusterBits wanted(counts_.size());
    std::vector<uint64_t> sorted;
    for (const auto& [k, users] : owners) {
        if (k < wanted.size())
            wanted.set(k);
        sorted.push_back(k);
    }
    std::sort(sorted.begin(), sorted.end());
    CheckReport scratch;
    const uint64_t cs = geometry_.cluster_size;
    auto add = [&](uint64_t k, const Role& role) {
        std::vector<Role>& users = owners[k];
        if (users.size() < max_users)
            users.push_back(role);
    };
    auto record = [&](uint64_t offset, uint64_t size, const Role& role) {
        if (size == 0 || !util::checked_add(offset, size))
            return;
        uint64_t first = offset / cs, last = (offset + size - 1) / cs;
        if (last - first < 64) {
            for (uint64_t k = first; k <= last && k < wanted.size(); ++k)
                if (wanted.test(k))
                    add(k, role);
            return;
        }
        for (auto it = std::lower_bound(sorted.begin(), sorted.end(), first); it != sorted.end() && *it <= last; ++it)
            add(*it, role);
    };
    WalkInputs inputs;
    inputs.snapshots = snapshots_ ? &*snapshots_ : nullptr;
    inputs.bitmaps = bitmaps_ ? &*bitmaps_ : nullptr;
    ReferenceWalker walker(image_, inputs, Reporting::silent, scratch, record);
    (void)walker.walk();
    for (uint64_t i = 0; i < reftable_.size(); ++i) {
        uint64_t offset = reftable_[i] & refcount::reftable_offset_mask;
        if (offset != 0 && offset % cs == 0) {
            Role role{RoleKind::refcount_block};
            role.table_index = i;
            record(offset, cs, role);
        }
    }
    for (Finding& f : report_.findings) {
        if ((f.kind != FindingKind::refcount_too_low && f.kind != FindingKind::refcount_too_high) || !f.cluster)
            continue;
        const std::vector<Role>& users = owners[*f.cluster];
        if (users.empty()) {
            if (f.references == 0)
                f.owner = "no table references it";
            continue;
        }
        for (const Role& r : users)
            f.owner += (f.owner.empty() ? "" : "; ") + r.describe();
        // The location: for users that contradict each other, the stray
        // pointer — a data entry pointing into metadata, or the later of two
        // data entries; otherwise the first user.
        const Role* pick = &users.front();
        if (std::binary_search(conflicts_.begin(), conflicts_.end(), *f.cluster)) {
            pick = &users.back();
            for (const Role& r : users)
                if (!r.is_metadata())
                    pick = &r;
        }
        const Role& r = *pick;
        f.l1_index = r.l1_index;
        f.l2_index = r.l2_index;
        f.guest_offset = r.guest_offset;
        f.snapshot = r.snapshot;
        f.bitmap = r.bitmap;
    }
}

} // namespace imgmend::check
