// Read-modify-write of on-disk tables (refcount blocks, L1 and L2 tables)
// for a plan: edits accumulate in memory, then only the 512-byte sectors that
// changed become plan writes — a sector is the unit a disk writes whole, so
// each write leaves an entry either old or new, never torn.
#pragma once

#include "io/write_plan.hpp"

#include <map>

namespace imgmend::io {

class TableEditor {
public:
    explicit TableEditor(io::BlockDevice& dev) : dev_(dev) {}

    // The bytes of the table at `offset` (`size` bytes), as edited so far.
    Result<std::vector<uint8_t>*> table(uint64_t offset, uint64_t size);
    // Emits the sectors changed since the last emit; later edits build on them.
    void emit(Plan& plan, const std::string& what);

private:
    struct Edited {
        std::vector<uint8_t> original;
        std::vector<uint8_t> current;
    };
    io::BlockDevice& dev_;
    std::map<uint64_t, Edited> tables_;
};

} // namespace imgmend::io
