#include "qcow2/bitmap.hpp"

#include "qcow2/limits.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

io::Result<std::vector<BitmapEntry>> read_bitmap_directory(io::BlockDevice& dev, const BitmapsExtension& ext)
{
    if (ext.nb_bitmaps > max_bitmaps)
        return fail(Errc::out_of_range, "too many bitmaps: {}", ext.nb_bitmaps);
    if (ext.directory_size > max_bitmap_directory_bytes)
        return fail(Errc::out_of_range, "bitmap directory too large: {} bytes", ext.directory_size);
    if (!util::range_within(ext.directory_offset, ext.directory_size, dev.size()))
        return fail(Errc::truncated, "bitmap directory at {:#x} (+{}) extends beyond end of file",
                    ext.directory_offset, ext.directory_size);
    std::vector<uint8_t> bytes(ext.directory_size);
    TRY(dev.read(ext.directory_offset, bytes));
    std::vector<BitmapEntry> entries;
    util::Cursor c(bytes);
    for (uint32_t i = 0; i < ext.nb_bitmaps; ++i) {
        BitmapEntry e;
        size_t start = c.position();
        e.entry_offset = ext.directory_offset + start;
        e.table_offset = c.be64();
        e.table_size = c.be32();
        e.flags = c.be32();
        e.type = c.u8();
        e.granularity_bits = c.u8();
        uint16_t name_size = c.be16();
        e.extra_data_size = c.be32();
        c.skip(e.extra_data_size);
        e.name = c.string(name_size);
        c.seek(start + *util::align_up(c.position() - start, 8));
        if (c.overrun())
            return fail(Errc::corrupt_metadata, "bitmap directory entry {} at {:#x} overruns the directory", i,
                        e.entry_offset);
        entries.push_back(std::move(e));
    }
    return entries;
}

io::Result<std::vector<uint64_t>> read_bitmap_table(io::BlockDevice& dev, const BitmapEntry& entry)
{
    uint64_t bytes = uint64_t{entry.table_size} * 8;
    if (!util::range_within(entry.table_offset, bytes, dev.size()))
        return fail(Errc::truncated, "bitmap '{}' table at {:#x} extends beyond end of file", entry.name,
                    entry.table_offset);
    std::vector<uint8_t> raw(bytes);
    TRY(dev.read(entry.table_offset, raw));
    std::vector<uint64_t> table(entry.table_size);
    for (uint64_t i = 0; i < table.size(); ++i)
        table[i] = util::load_be64(raw, i * 8);
    return table;
}

} // namespace imgmend::qcow2
