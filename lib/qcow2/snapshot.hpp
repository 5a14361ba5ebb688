// The internal snapshot table (../shared/ref/qcow2-spec.txt, "Snapshots").
// nb_snapshots entries from snapshots_offset, each padded to 8 bytes:
//   offset  size  field
//    0       8    l1_table_offset
//    8       4    l1_size (entries)
//   12       2    id_str_size
//   14       2    name_size
//   16       4    date_sec
//   20       4    date_nsec
//   24       8    vm_clock_nsec
//   32       4    vm_state_size (32 bits)
//   36       4    extra_data_size
//   40       n    extra data: 0 vm_state_size_large (8), 8 disk_size (8),
//                 16 icount (8, optional); version 3 requires the first 16
//         ...     id string, then name (not terminated), then padding
#pragma once

#include "io/block_device.hpp"
#include "qcow2/header.hpp"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace imgmend::qcow2 {

struct Snapshot {
    uint64_t entry_offset = 0; // where the entry starts in the file
    uint64_t entry_size = 0;   // including padding
    uint64_t l1_table_offset = 0;
    uint32_t l1_size = 0;
    std::string id;
    std::string name;
    uint32_t date_sec = 0;
    uint32_t date_nsec = 0;
    uint64_t vm_clock_nsec = 0;
    uint64_t vm_state_size = 0;
    uint32_t extra_data_size = 0;
    std::optional<uint64_t> disk_size;
    std::optional<uint64_t> icount;
};

struct SnapshotTable {
    std::vector<Snapshot> entries;
    uint64_t total_bytes = 0; // bytes the table occupies from snapshots_offset
};

// Reads the table. Structural problems (extends beyond the file, an entry's
// extra data above qemu's 1024-byte cap) are errors; semantic ones (a bad
// L1 offset) are left to the checker.
io::Result<SnapshotTable> read_snapshot_table(io::BlockDevice& dev, const Header& header);

// The fixed part that opens every entry (bytes 0..39 above), as stored.
inline constexpr uint64_t snapshot_entry_fixed_bytes = 40;
struct SnapshotEntryHead {
    uint64_t l1_table_offset;
    uint32_t l1_size;
    uint16_t id_size;
    uint16_t name_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint32_t vm_state_size32;
    uint32_t extra_data_size;
};
// `fixed` holds snapshot_entry_fixed_bytes bytes.
SnapshotEntryHead decode_snapshot_entry_head(std::span<const uint8_t> fixed);

} // namespace imgmend::qcow2
