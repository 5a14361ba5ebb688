#include "io/write_plan.hpp"

#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>
#include <cstring>

namespace imgmend::io {

using util::Errc;
using util::fail;

void Plan::write(uint64_t offset, std::vector<uint8_t> data, std::string what)
{
    steps_.push_back({Step::Kind::write, offset, std::move(data), 0, std::move(what)});
}

void Plan::flush(std::string what)
{
    if (!steps_.empty() && steps_.back().kind == Step::Kind::flush)
        return;
    steps_.push_back({Step::Kind::flush, 0, {}, 0, std::move(what)});
}

void Plan::discard(uint64_t offset, uint64_t length, std::string what)
{
    steps_.push_back({Step::Kind::discard, offset, {}, length, std::move(what)});
}

size_t Plan::writes() const
{
    return static_cast<size_t>(
        std::count_if(steps_.begin(), steps_.end(), [](const Step& s) { return s.kind == Step::Kind::write; }));
}

uint64_t Plan::final_size(uint64_t size) const
{
    for (const Step& s : steps_)
        if (s.kind == Step::Kind::write)
            size = std::max(size, s.offset + s.data.size());
    return size;
}

// Undo file layout (big-endian):
//   0   16  magic "imgmend-undo-v1\n"
//   16   8  original image size
//   24   8  number of records
//   32  ..  records: offset (8), length (8), the old bytes (length)
// It is written whole and flushed before the image is touched; restoring
// writes the records back in reverse order and truncates to the old size.
namespace {

constexpr char undo_magic[] = "imgmend-undo-v1\n";
constexpr size_t magic_size = 16;

} // namespace

Result<void> execute(const Plan& plan, io::BlockDevice& image, io::BlockDevice* undo)
{
    if (undo) {
        std::vector<uint8_t> out(32);
        std::memcpy(out.data(), undo_magic, magic_size);
        uint64_t records = 0;
        for (const Step& s : plan.steps()) {
            if (s.kind == Step::Kind::flush)
                continue;
            uint64_t length = s.kind == Step::Kind::write ? s.data.size() : s.length;
            size_t at = out.size();
            out.resize(at + 16 + length);
            util::store_be64(out, at, s.offset);
            util::store_be64(out, at + 8, length);
            TRY(image.read_zero_padded(s.offset, std::span<uint8_t>(out).subspan(at + 16, length)));
            ++records;
        }
        util::store_be64(out, 16, image.size());
        util::store_be64(out, 24, records);
        TRY(undo->write(0, out));
        TRY(undo->flush());
    }
    for (const Step& s : plan.steps()) {
        switch (s.kind) {
        case Step::Kind::write: TRY(image.write(s.offset, s.data)); break;
        case Step::Kind::flush: TRY(image.flush()); break;
        case Step::Kind::discard: TRY(image.discard(s.offset, s.length)); break;
        }
    }
    return image.flush();
}

Result<void> apply_undo(io::BlockDevice& undo, io::BlockDevice& image)
{
    std::vector<uint8_t> head(32);
    if (undo.size() < head.size())
        return fail(Errc::bad_magic, "'{}' is not an imgmend undo file", undo.name());
    TRY(undo.read(0, head));
    if (std::memcmp(head.data(), undo_magic, magic_size) != 0)
        return fail(Errc::bad_magic, "'{}' is not an imgmend undo file", undo.name());
    uint64_t original_size = util::load_be64(head, 16);
    uint64_t records = util::load_be64(head, 24);
    struct Record {
        uint64_t offset, length, at;
    };
    std::vector<Record> list;
    uint64_t pos = 32;
    // Each record is at least 16 bytes of the file, so the count is bounded.
    for (uint64_t i = 0; i < records; ++i) {
        if (!util::range_within(pos, 16, undo.size()))
            return fail(Errc::truncated, "undo file '{}' is truncated at record {}", undo.name(), i);
        std::vector<uint8_t> rec(16);
        TRY(undo.read(pos, rec));
        Record r{util::load_be64(rec, 0), util::load_be64(rec, 8), pos + 16};
        if (!util::range_within(r.at, r.length, undo.size()))
            return fail(Errc::truncated, "undo file '{}' is truncated at record {}", undo.name(), i);
        list.push_back(r);
        pos = r.at + r.length;
    }
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
        std::vector<uint8_t> bytes(it->length);
        TRY(undo.read(it->at, bytes));
        TRY(image.write(it->offset, bytes));
    }
    if (image.size() != original_size && image.can_resize())
        TRY(image.resize(original_size));
    return image.flush();
}

} // namespace imgmend::io
