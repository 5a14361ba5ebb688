#include "qcow2/snapshot.hpp"

#include "qcow2/limits.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

namespace {
constexpr uint64_t fixed_entry_bytes = snapshot_entry_fixed_bytes;
}

SnapshotEntryHead decode_snapshot_entry_head(std::span<const uint8_t> fixed)
{
    util::Cursor c(fixed);
    SnapshotEntryHead h;
    h.l1_table_offset = c.be64();
    h.l1_size = c.be32();
    h.id_size = c.be16();
    h.name_size = c.be16();
    h.date_sec = c.be32();
    h.date_nsec = c.be32();
    h.vm_clock_nsec = c.be64();
    h.vm_state_size32 = c.be32();
    h.extra_data_size = c.be32();
    return h;
}

io::Result<SnapshotTable> read_snapshot_table(io::BlockDevice& dev, const Header& header)
{
    // Refused here rather than when the header is opened: qemu-img check
    // opens such an image, and check -r all drops the snapshots past the cap.
    if (header.nb_snapshots > max_snapshots)
        return fail(Errc::out_of_range, "Too many snapshots: {} (at most {})", header.nb_snapshots, max_snapshots);
    SnapshotTable table;
    uint64_t pos = header.snapshots_offset;
    // Bounded by what the file can hold, not by the header's claim.
    table.entries.reserve(std::min<uint64_t>(header.nb_snapshots, dev.size() / fixed_entry_bytes));
    for (uint32_t i = 0; i < header.nb_snapshots; ++i) {
        std::vector<uint8_t> fixed(fixed_entry_bytes);
        if (!util::range_within(pos, fixed_entry_bytes, dev.size()))
            return fail(Errc::truncated, "snapshot table entry {} at {:#x} extends beyond end of file", i, pos);
        TRY(dev.read(pos, fixed));
        SnapshotEntryHead head = decode_snapshot_entry_head(fixed);
        uint16_t id_size = head.id_size, name_size = head.name_size;
        Snapshot s;
        s.entry_offset = pos;
        s.l1_table_offset = head.l1_table_offset;
        s.l1_size = head.l1_size;
        s.date_sec = head.date_sec;
        s.date_nsec = head.date_nsec;
        s.vm_clock_nsec = head.vm_clock_nsec;
        s.vm_state_size = head.vm_state_size32;
        s.extra_data_size = head.extra_data_size;
        if (s.extra_data_size > max_snapshot_extra)
            return util::Unexpected{util::Error{
                Errc::corrupt_metadata,
                fmt::format("Too much extra metadata in snapshot table entry {} at {:#x} ({} bytes)", i, pos,
                            s.extra_data_size),
                pos}};
        uint64_t variable = uint64_t{s.extra_data_size} + id_size + name_size;
        if (!util::range_within(pos + fixed_entry_bytes, variable, dev.size()))
            return fail(Errc::truncated, "snapshot table entry {} at {:#x} extends beyond end of file", i, pos);
        std::vector<uint8_t> rest(variable);
        TRY(dev.read(pos + fixed_entry_bytes, rest));
        util::Cursor r(rest);
        if (s.extra_data_size >= 8)
            s.vm_state_size = r.be64();
        if (s.extra_data_size >= 16)
            s.disk_size = r.be64();
        if (s.extra_data_size >= 24)
            s.icount = r.be64();
        r.seek(s.extra_data_size);
        s.id = r.string(id_size);
        s.name = r.string(name_size);
        s.entry_size = *util::align_up(fixed_entry_bytes + variable, 8);
        pos += s.entry_size;
        table.total_bytes += s.entry_size;
        if (table.total_bytes > max_snapshot_table_bytes)
            return fail(Errc::out_of_range, "snapshot table too large (over {} bytes)", max_snapshot_table_bytes);
        table.entries.push_back(std::move(s));
    }
    return table;
}

} // namespace imgmend::qcow2
