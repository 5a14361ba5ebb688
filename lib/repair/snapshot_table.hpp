// A damaged internal snapshot table read the way qemu-img check -r all reads
// it, and the table it writes back (entry layout: qcow2/snapshot.hpp).
//
// Observed with qemu-img 7.2 (docs/qemu-check-behaviour.md, 6.15):
//  * more than 65536 entries: the first 65536 are kept, the rest dropped
//    unread;
//  * an entry whose end would lie past 64 MiB from the table start: it and
//    every later entry are dropped;
//  * extra data above 1024 bytes: the first 1024 bytes are kept, and the id
//    and name are still read after the whole declared extra data (so they
//    come from whatever follows, and so do later entries);
//  * a version 3 entry with less than 16 bytes of extra data is incomplete:
//    the missing fields are filled in (VM state size from the 32-bit field,
//    disk size from the image's current size);
//  * ids and names end at their first NUL byte (qemu keeps C strings);
//  * every kept entry is written back with at least 24 bytes of extra data
//    (icount -1 where it was absent) and the 32-bit VM state size set from
//    the 64-bit one (0 when it does not fit); unknown extra bytes are kept.
// Unlike qemu (which reads past the end of the file as zeros and turns what
// it finds there into empty snapshots) an entry reaching past the end of the
// file makes the table unsalvageable: the table pointer itself may be what
// is damaged, and rewriting would orphan every real snapshot.
#pragma once

#include "io/block_device.hpp"
#include "qcow2/header.hpp"

#include <string>
#include <vector>

namespace imgmend::repair {

using util::Result;

struct SalvagedSnapshot {
    uint64_t entry_offset = 0;
    uint64_t l1_table_offset = 0;
    uint32_t l1_size = 0;
    uint32_t date_sec = 0;
    uint32_t date_nsec = 0;
    uint64_t vm_clock_nsec = 0;
    uint32_t vm_state_size32 = 0;   // bytes 32..35 as read
    uint32_t extra_data_size = 0;   // as declared
    std::vector<uint8_t> extra;     // what is kept of it (at most 1024 bytes)
    std::string id;
    std::string name;
    bool incomplete = false;        // version 3, less than 16 bytes of extra data
};

struct SalvagedTable {
    std::vector<SalvagedSnapshot> kept;
    uint64_t parsed_bytes = 0;      // what the kept entries occupy as read
    uint64_t dropped_too_many = 0;  // past qemu's 65536 entries
    uint64_t dropped_too_big = 0;   // would end past qemu's 64 MiB
    uint64_t extra_truncated = 0;
    uint64_t incomplete = 0;

    // What qemu counts as corruptions (and, once written, fixed).
    uint64_t corruptions() const { return dropped_too_many + dropped_too_big + extra_truncated + incomplete; }
};

Result<SalvagedTable> salvage_snapshot_table(io::BlockDevice& dev, const qcow2::Header& header);

// The table as qemu writes it back, unpadded (`virtual_size` fills the disk
// size of incomplete entries).
std::vector<uint8_t> serialize_snapshot_table(const SalvagedTable& table, uint64_t virtual_size);

} // namespace imgmend::repair
