#include "check/reference_walker.hpp"

#include "io/read_ahead.hpp"
#include "qcow2/l2_entry.hpp"
#include "qcow2/limits.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <boost/endian/conversion.hpp>
#include <fmt/format.h>

namespace imgmend::check {

namespace {

constexpr uint64_t l2_std_reserved_mask = 0x3f000000000001feull;
constexpr uint64_t all_alloc_bits = 0xffffffffull;
constexpr uint64_t bitmap_table_reserved_mask = 0xff000000000001feull;
// L1 entries are read in chunks so a huge (or hostile) table costs bounded memory.
constexpr uint64_t l1_chunk_entries = 1 << 16;

} // namespace

void ReferenceWalker::note(Finding f)
{
    if (reporting_ == Reporting::findings)
        report_.add(std::move(f));
}

Result<void> ReferenceWalker::walk()
{
    const qcow2::Header& h = image_.header();
    on_ref_(0, h.cluster_size(), Role{RoleKind::header});
    // Count the active L2 tables first, for progress, and ask the host to
    // start reading them all: scattered tables then arrive in parallel.
    for (uint64_t i = 0; i < h.l1_size; ++i) {
        uint64_t l2 = image_.l1_entry(i) & qcow2::offset_mask;
        if (l2 == 0)
            continue;
        ++l2_total_;
        if (reporting_ == Reporting::findings)
            image_.file().will_need(l2, h.cluster_size());
    }
    TRY(walk_l1(h.l1_table_offset, h.l1_size, std::nullopt));
    walk_snapshots();
    if (inputs_.snapshots && inputs_.snapshots->total_bytes > 0)
        on_ref_(h.snapshots_offset, inputs_.snapshots->total_bytes, Role{RoleKind::snapshot_table});
    on_ref_(h.refcount_table_offset, uint64_t{h.refcount_table_clusters} * h.cluster_size(),
            Role{RoleKind::refcount_table});
    if (const auto& enc = image_.extensions().encryption; enc && enc->length > 0)
        on_ref_(enc->offset, enc->length, Role{RoleKind::encryption_header});
    walk_bitmaps();
    return {};
}

Result<void> ReferenceWalker::walk_l1(uint64_t l1_offset, uint64_t l1_size,
                                      const std::optional<std::string>& snapshot)
{
    if (l1_size == 0)
        return {};
    Role l1_role{RoleKind::l1_table};
    l1_role.snapshot = snapshot;
    on_ref_(l1_offset, l1_size * 8, l1_role);
    io::BlockDevice& dev = image_.file();
    std::vector<uint8_t> chunk;
    for (uint64_t first = 0; first < l1_size; first += l1_chunk_entries) {
        uint64_t n = std::min(l1_chunk_entries, l1_size - first);
        chunk.resize(n * 8);
        auto read = dev.read_zero_padded(l1_offset + first * 8, chunk);
        if (!read) {
            Finding f{FindingKind::table_unreadable, Severity::check_error, Repair::none,
                      "ERROR: I/O error in check_refcounts_l1"};
            f.host_offset = l1_offset;
            note(std::move(f));
            return {};
        }
        // The chunk's L2 tables, read ahead on another thread while this
        // one walks them.
        std::vector<uint64_t> l2_offsets;
        for (uint64_t k = 0; k < n; ++k)
            if (uint64_t l2_offset = util::load_be64(chunk, k * 8) & qcow2::offset_mask)
                l2_offsets.push_back(l2_offset);
        io::ReadAhead tables(dev, std::move(l2_offsets), image_.geometry().cluster_size);
        for (uint64_t k = 0; k < n; ++k) {
            uint64_t i = first + k;
            uint64_t entry = util::load_be64(chunk, k * 8);
            if (entry & qcow2::l1_reserved_mask) {
                Finding f{FindingKind::l1_reserved_bits, Severity::corruption, Repair::none,
                          fmt::format("ERROR found L1 entry with reserved bits set: {:x}", entry)};
                f.host_offset = l1_offset + i * 8;
                f.l1_index = i;
                f.snapshot = snapshot;
                note(std::move(f));
            }
            uint64_t l2_offset = entry & qcow2::offset_mask;
            if (l2_offset == 0)
                continue;
            Role role{RoleKind::l2_table};
            role.l1_index = i;
            role.snapshot = snapshot;
            on_ref_(l2_offset, image_.geometry().cluster_size, role);
            if (l2_offset % image_.geometry().cluster_size != 0) {
                Finding f{FindingKind::unaligned_l2_table, Severity::corruption, Repair::none,
                          fmt::format("ERROR l2_offset={:x}: Table is not cluster aligned; L1 entry corrupted",
                                      l2_offset)};
                f.host_offset = l2_offset;
                f.l1_index = i;
                f.snapshot = snapshot;
                note(std::move(f));
            }
            walk_l2(l2_offset, tables.next(), i, snapshot);
        }
    }
    return {};
}

void ReferenceWalker::walk_l2(uint64_t l2_offset, const Result<std::span<const uint8_t>>& bytes, uint64_t l1_index,
                              const std::optional<std::string>& snapshot)
{
    const qcow2::Geometry& g = image_.geometry();
    bool active = !snapshot;
    bool data_file = image_.header().has_data_file();
    if (!bytes) {
        Finding f{FindingKind::table_unreadable, Severity::check_error, Repair::none,
                  "ERROR: I/O error in check_refcounts_l2"};
        f.host_offset = l2_offset;
        note(std::move(f));
        return;
    }
    RunFigures figures;  // the allocation figures of an active table
    RunFigures ignored;  // those of a snapshot's
    // One Role per table (it holds the snapshot name); entries update its indices.
    Role role{RoleKind::data};
    role.l1_index = l1_index;
    role.snapshot = snapshot;
    const uint64_t table_guest = l1_index * g.l2_entries * g.cluster_size;
    const bool tally_active = active && reporting_ == Reporting::findings;
    // The fast path: standard entries of ordinary, aligned data clusters.
    const bool fast = counter_ && g.l2_entry_bytes == 8 && !data_file;
    const uint8_t* table = bytes->data();
    for (uint64_t j = 0; j < g.l2_entries; ++j) {
        if (fast) {
            j = counter_->count_run(table, j, g.l2_entries, tally_active ? figures : ignored);
            if (j == g.l2_entries)
                break;
        }
        qcow2::L2Entry e;
        e.raw = boost::endian::load_big_u64(table + j * g.l2_entry_bytes);
        if (g.l2_entry_bytes == 16)
            e.bitmap = boost::endian::load_big_u64(table + j * 16 + 8);
        if (e.raw == 0 && e.bitmap == 0)
            continue;
        if (active)
            active_ordinary_copied_ = false; // the general path: the flags get a second look
        uint64_t guest = table_guest + j * g.cluster_size;
        auto located = [&](FindingKind kind, Severity sev, Repair repair, std::string message) {
            Finding f{kind, sev, repair, std::move(message)};
            f.host_offset = l2_offset + j * g.l2_entry_bytes;
            f.l1_index = l1_index;
            f.l2_index = j;
            f.guest_offset = guest;
            f.snapshot = snapshot;
            note(std::move(f));
        };
        role.kind = RoleKind::data;
        role.l2_index = j;
        role.guest_offset = guest;

        if (e.compressed()) {
            if (e.copied()) {
                located(FindingKind::compressed_copied, Severity::corruption, Repair::all,
                        fmt::format("ERROR: coffset=0x{:x}: copied flag must never be set for compressed clusters",
                                    qcow2::compressed_descriptor(g, e.raw & ~qcow2::oflag_copied).offset));
                e.raw &= ~qcow2::oflag_copied;
            }
            if (data_file) {
                located(FindingKind::compressed_with_data_file, Severity::corruption, Repair::none,
                        fmt::format("ERROR compressed cluster {} with data file, entry=0x{:x}", j, e.raw));
                continue;
            }
            if (e.bitmap) {
                located(FindingKind::compressed_with_bitmap, Severity::corruption, Repair::none,
                        fmt::format("ERROR compressed cluster {} with non-zero subcluster allocation bitmap, "
                                    "entry=0x{:x}",
                                    j, e.raw));
                continue;
            }
            qcow2::CompressedDescriptor d = qcow2::compressed_descriptor(g, e.raw);
            role.kind = RoleKind::compressed_data;
            on_ref_(d.offset, d.length, role);
            if (active && reporting_ == Reporting::findings) {
                ++report_.allocated_clusters;
                ++report_.compressed_clusters;
                ++report_.fragmented_clusters; // as qemu: compressed clusters are fragmented by nature
            }
            continue;
        }
        if (e.raw & l2_std_reserved_mask)
            located(FindingKind::l2_reserved_bits, Severity::corruption, Repair::none,
                    fmt::format("ERROR found l2 entry with reserved bits set: {:x}", e.raw));
        uint64_t offset = e.host_offset();
        bool zero_flag = g.subclusters == 1 && (e.raw & qcow2::oflag_zero);
        bool allocated = offset != 0 || (data_file && e.copied());
        if (!allocated) {
            if (g.subclusters > 1 && (e.bitmap & all_alloc_bits))
                located(FindingKind::unallocated_with_bitmap, Severity::corruption, Repair::none,
                        "ERROR: Unallocated cluster has non-zero subcluster allocation map");
            continue;
        }
        // A normal or preallocated-zero cluster.
        if ((e.bitmap >> 32) & e.bitmap)
            located(FindingKind::subcluster_alloc_and_zero, Severity::corruption, Repair::none,
                    fmt::format("ERROR offset={:x}: Allocated cluster has corrupted subcluster allocation bitmap",
                                offset));
        if (offset % g.cluster_size != 0) {
            bool contains_data = g.subclusters > 1 ? (e.bitmap & all_alloc_bits) != 0 : !zero_flag;
            if (contains_data)
                located(FindingKind::unaligned_data_cluster, Severity::corruption, Repair::none,
                        fmt::format("ERROR offset={:x}: Data cluster is not properly aligned; L2 entry corrupted.",
                                    offset));
            else
                located(FindingKind::unaligned_prealloc_zero, Severity::corruption, Repair::all,
                        fmt::format("ERROR offset={:x}: Preallocated cluster is not properly aligned; L2 entry "
                                    "corrupted.",
                                    offset));
        }
        if (tally_active) {
            ++figures.allocated;
            if (figures.next_contiguous != 0 && offset != figures.next_contiguous)
                ++figures.fragmented;
            figures.next_contiguous = offset + g.cluster_size;
        }
        if (!data_file)
            on_ref_(offset, g.cluster_size, role);
    }
    if (tally_active) {
        report_.allocated_clusters += figures.allocated;
        report_.fragmented_clusters += figures.fragmented;
        active_ordinary_copied_ = active_ordinary_copied_ && figures.all_copied;
    }
    if (active && progress_)
        progress_(++l2_done_, l2_total_);
}

void ReferenceWalker::walk_snapshots()
{
    if (!inputs_.snapshots)
        return;
    const auto& entries = inputs_.snapshots->entries;
    if (image_.header().has_data_file() && !entries.empty()) {
        Finding f{FindingKind::snapshots_with_data_file, Severity::corruption, Repair::none,
                  fmt::format("ERROR {} snapshots in image with data file", entries.size())};
        note(std::move(f));
    }
    for (const qcow2::Snapshot& sn : entries) {
        Finding f{FindingKind::snapshot_l1_unaligned, Severity::corruption, Repair::none, {}};
        f.snapshot = sn.id;
        f.host_offset = sn.entry_offset;
        if (sn.l1_table_offset % image_.geometry().cluster_size != 0) {
            f.message = fmt::format("ERROR snapshot {} ({}) l1_offset={:#x}: L1 table is not cluster aligned; "
                                    "snapshot table entry corrupted",
                                    sn.id, sn.name, sn.l1_table_offset);
            note(std::move(f));
            continue;
        }
        if (sn.l1_size > qcow2::max_l1_bytes / 8) {
            f.kind = FindingKind::snapshot_l1_too_large;
            f.message = fmt::format("ERROR snapshot {} ({}) l1_size={:#x}: L1 table is too large; snapshot table "
                                    "entry corrupted",
                                    sn.id, sn.name, sn.l1_size);
            note(std::move(f));
            continue;
        }
        (void)walk_l1(sn.l1_table_offset, sn.l1_size, sn.id);
    }
}

void ReferenceWalker::walk_bitmaps()
{
    const auto& ext = image_.extensions().bitmaps;
    if (!ext || !(image_.header().autoclear_features & qcow2::autoclear_bitmaps) || ext->nb_bitmaps == 0)
        return;
    on_ref_(ext->directory_offset, ext->directory_size, Role{RoleKind::bitmap_directory});
    if (!inputs_.bitmaps)
        return; // the damaged directory was reported by the caller
    const uint64_t cluster_size = image_.geometry().cluster_size;
    for (const qcow2::BitmapEntry& bm : *inputs_.bitmaps) {
        Role table_role{RoleKind::bitmap_table};
        table_role.bitmap = bm.name;
        on_ref_(bm.table_offset, uint64_t{bm.table_size} * 8, table_role);
        auto table = qcow2::read_bitmap_table(image_.file(), bm);
        if (!table) {
            Finding f{FindingKind::bitmap_table_damaged, Severity::corruption, Repair::none,
                      fmt::format("ERROR bitmap '{}': {}", bm.name, table.error().message)};
            f.bitmap = bm.name;
            f.host_offset = bm.table_offset;
            note(std::move(f));
            break;
        }
        Role data_role{RoleKind::bitmap_data};
        data_role.bitmap = bm.name;
        for (uint64_t i = 0; i < table->size(); ++i) {
            uint64_t entry = (*table)[i];
            uint64_t offset = entry & qcow2::bitmap_entry_offset_mask;
            bool bad = (entry & bitmap_table_reserved_mask) ||
                       (offset != 0 && ((entry & qcow2::bitmap_entry_all_ones) || offset % cluster_size != 0));
            if (bad) {
                Finding f{FindingKind::bitmap_table_damaged, Severity::corruption, Repair::none,
                          fmt::format("ERROR bitmap '{}' table entry {} is invalid: {:#x}", bm.name, i, entry)};
                f.bitmap = bm.name;
                f.host_offset = bm.table_offset + i * 8;
                note(std::move(f));
                continue;
            }
            if (offset != 0)
                on_ref_(offset, cluster_size, data_role);
        }
    }
}

} // namespace imgmend::check
