#include "repair/snapshot_table.hpp"

#include "qcow2/limits.hpp"
#include "qcow2/snapshot.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace imgmend::repair {

using util::Errc;
using util::fail;

namespace {

constexpr uint64_t fixed_entry_bytes = qcow2::snapshot_entry_fixed_bytes;
constexpr uint64_t written_extra_bytes = 24; // VM state size, disk size, icount
constexpr uint64_t complete_extra_bytes = 16; // what version 3 requires

} // namespace

Result<SalvagedTable> salvage_snapshot_table(io::BlockDevice& dev, const qcow2::Header& header)
{
    SalvagedTable table;
    uint64_t entries = header.nb_snapshots;
    if (entries > qcow2::max_snapshots) {
        table.dropped_too_many = entries - qcow2::max_snapshots;
        entries = qcow2::max_snapshots;
    }
    uint64_t pos = header.snapshots_offset;
    for (uint64_t i = 0; i < entries; ++i) {
        if (!util::range_within(pos, fixed_entry_bytes, dev.size()))
            return fail(Errc::truncated, "snapshot table entry {} at {:#x} extends beyond end of file", i, pos);
        std::vector<uint8_t> fixed(fixed_entry_bytes);
        TRY(dev.read(pos, fixed));
        qcow2::SnapshotEntryHead head = qcow2::decode_snapshot_entry_head(fixed);
        uint16_t id_size = head.id_size, name_size = head.name_size;
        SalvagedSnapshot s;
        s.entry_offset = pos;
        s.l1_table_offset = head.l1_table_offset;
        s.l1_size = head.l1_size;
        s.date_sec = head.date_sec;
        s.date_nsec = head.date_nsec;
        s.vm_clock_nsec = head.vm_clock_nsec;
        s.vm_state_size32 = head.vm_state_size32;
        s.extra_data_size = head.extra_data_size;
        // Bounded: 40 + 2^32 + 2 * 2^16 cannot overflow, and the range is
        // checked against the file before anything is allocated.
        uint64_t variable = uint64_t{s.extra_data_size} + id_size + name_size;
        uint64_t entry_size = (fixed_entry_bytes + variable + 7) / 8 * 8;
        if (table.parsed_bytes + entry_size > qcow2::max_snapshot_table_bytes) {
            table.dropped_too_big = entries - i;
            break;
        }
        if (!util::range_within(pos + fixed_entry_bytes, variable, dev.size()))
            return fail(Errc::truncated, "snapshot table entry {} at {:#x} extends beyond end of file", i, pos);
        uint64_t keep = std::min<uint64_t>(s.extra_data_size, qcow2::max_snapshot_extra);
        if (keep < s.extra_data_size)
            ++table.extra_truncated;
        s.extra.resize(keep);
        TRY(dev.read(pos + fixed_entry_bytes, s.extra));
        std::vector<uint8_t> strings(uint64_t{id_size} + name_size);
        TRY(dev.read(pos + fixed_entry_bytes + s.extra_data_size, strings));
        // qemu holds them as C strings: a NUL ends them, also on rewrite.
        auto id_end = strings.begin() + id_size;
        s.id.assign(strings.begin(), std::find(strings.begin(), id_end, uint8_t{0}));
        s.name.assign(id_end, std::find(id_end, strings.end(), uint8_t{0}));
        s.incomplete = header.version >= 3 && s.extra.size() < complete_extra_bytes;
        table.incomplete += s.incomplete;
        table.parsed_bytes += entry_size;
        pos += entry_size;
        table.kept.push_back(std::move(s));
    }
    return table;
}

std::vector<uint8_t> serialize_snapshot_table(const SalvagedTable& table, uint64_t virtual_size)
{
    std::vector<uint8_t> out;
    for (const SalvagedSnapshot& s : table.kept) {
        std::vector<uint8_t> extra = s.extra;
        if (extra.size() < written_extra_bytes)
            extra.resize(written_extra_bytes, 0);
        // The fields a short entry lacks; present ones are written back as read.
        if (s.extra.size() < 8)
            util::store_be64(extra, 0, s.vm_state_size32);
        if (s.extra.size() < 16)
            util::store_be64(extra, 8, virtual_size);
        if (s.extra.size() < 24)
            util::store_be64(extra, 16, ~uint64_t{0}); // icount: none recorded
        uint64_t vm_state_size = util::load_be64(extra, 0);

        size_t at = out.size();
        uint64_t size = fixed_entry_bytes + extra.size() + s.id.size() + s.name.size();
        out.resize(at + (size + 7) / 8 * 8, 0);
        std::span<uint8_t> e = std::span<uint8_t>(out).subspan(at);
        util::store_be64(e, 0, s.l1_table_offset);
        util::store_be32(e, 8, s.l1_size);
        util::store_be16(e, 12, static_cast<uint16_t>(s.id.size()));
        util::store_be16(e, 14, static_cast<uint16_t>(s.name.size()));
        util::store_be32(e, 16, s.date_sec);
        util::store_be32(e, 20, s.date_nsec);
        util::store_be64(e, 24, s.vm_clock_nsec);
        util::store_be32(e, 32, vm_state_size > 0xffffffffu ? 0 : static_cast<uint32_t>(vm_state_size));
        util::store_be32(e, 36, static_cast<uint32_t>(extra.size()));
        std::copy(extra.begin(), extra.end(), e.begin() + fixed_entry_bytes);
        auto strings = e.begin() + static_cast<ptrdiff_t>(fixed_entry_bytes + extra.size());
        strings = std::copy(s.id.begin(), s.id.end(), strings);
        std::copy(s.name.begin(), s.name.end(), strings);
    }
    return out;
}

} // namespace imgmend::repair
