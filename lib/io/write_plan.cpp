#include "io/write_plan.hpp"

#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

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
//   0   16  magic "imgmend-undo-v2\n"
//   16   8  original image size
//   24   8  number of records
//   32   8  1 once the repair completed (the fields below it are then set)
//   40   8  the image size the plan leads to
//   48   8  the image size after the repair (once completed)
//   56   8  hash of the image's first MiB after the repair (once completed)
//   64  ..  records: offset (8), length (8), kind (8: 1 write, 2 discard),
//           hash of the bytes the step writes (8), hash of the region after
//           the repair (8, once completed), then the old bytes (length)
// It is written and flushed before the image is touched; once the repair
// completes, the hashes of what it left are added and flushed. Restoring
// first checks that the image is still what the repair left (or, after an
// interrupted repair, that each region holds its old or its new bytes), so
// an undo file never lands on another image, or on one changed since;
// then it writes the records back in reverse order and truncates to the
// old size.
namespace {

constexpr char undo_magic[] = "imgmend-undo-v2\n";
constexpr char undo_magic_v1[] = "imgmend-undo-v1\n";
constexpr size_t magic_size = 16;
constexpr uint64_t header_size = 64;
constexpr uint64_t fingerprint_bytes = 1 << 20; // header, tables: what tells images apart
constexpr uint64_t record_head = 40;
constexpr uint64_t kind_write = 1, kind_discard = 2;
constexpr size_t chunk = 1 << 20;

// 64-bit FNV-1a, continued from `h`.
uint64_t fnv1a(std::span<const uint8_t> bytes, uint64_t h = 0xcbf29ce484222325ull)
{
    for (uint8_t b : bytes) {
        h ^= b;
        h *= 0x100000001b3ull;
    }
    return h;
}

// The hash of `length` bytes of `dev` from `offset` (zeros past its end), read a chunk at a time.
Result<uint64_t> hash_region(BlockDevice& dev, uint64_t offset, uint64_t length)
{
    uint64_t h = fnv1a({});
    std::vector<uint8_t> buf;
    for (uint64_t done = 0; done < length;) {
        buf.resize(static_cast<size_t>(std::min<uint64_t>(chunk, length - done)));
        TRY(dev.read_zero_padded(offset + done, buf));
        h = fnv1a(buf, h);
        done += buf.size();
    }
    return h;
}

// Copies `length` bytes of `from` at `from_offset` to `to` at `to_offset`, a chunk at a time.
Result<void> copy_region(BlockDevice& from, uint64_t from_offset, BlockDevice& to, uint64_t to_offset,
                         uint64_t length, bool zero_padded)
{
    std::vector<uint8_t> buf;
    for (uint64_t done = 0; done < length;) {
        buf.resize(static_cast<size_t>(std::min<uint64_t>(chunk, length - done)));
        if (zero_padded)
            TRY(from.read_zero_padded(from_offset + done, buf));
        else
            TRY(from.read(from_offset + done, buf));
        TRY(to.write(to_offset + done, buf));
        done += buf.size();
    }
    return {};
}

} // namespace

Result<void> execute(const Plan& plan, io::BlockDevice& image, io::BlockDevice* undo)
{
    std::vector<uint64_t> record_at; // where each record starts in the undo file
    if (undo) {
        uint64_t records = 0, pos = header_size;
        for (const Step& s : plan.steps()) {
            if (s.kind == Step::Kind::flush)
                continue;
            uint64_t length = s.kind == Step::Kind::write ? s.data.size() : s.length;
            std::vector<uint8_t> head(record_head, 0);
            util::store_be64(head, 0, s.offset);
            util::store_be64(head, 8, length);
            util::store_be64(head, 16, s.kind == Step::Kind::write ? kind_write : kind_discard);
            util::store_be64(head, 24, s.kind == Step::Kind::write ? fnv1a(s.data) : 0);
            TRY(undo->write(pos, head));
            TRY(copy_region(image, s.offset, *undo, pos + record_head, length, true));
            record_at.push_back(pos);
            pos += record_head + length;
            ++records;
        }
        std::vector<uint8_t> header(header_size, 0);
        std::memcpy(header.data(), undo_magic, magic_size);
        util::store_be64(header, 16, image.size());
        util::store_be64(header, 24, records);
        util::store_be64(header, 40, plan.final_size(image.size()));
        TRY(undo->write(0, header));
        TRY(undo->flush());
    }
    for (const Step& s : plan.steps()) {
        switch (s.kind) {
        case Step::Kind::write: TRY(image.write(s.offset, s.data)); break;
        case Step::Kind::flush: TRY(image.flush()); break;
        case Step::Kind::discard: TRY(image.discard(s.offset, s.length)); break;
        }
    }
    TRY(image.flush());
    if (undo) {
        // What the repair left, for apply_undo to recognise the image by.
        size_t i = 0;
        for (const Step& s : plan.steps()) {
            if (s.kind == Step::Kind::flush)
                continue;
            if (s.kind == Step::Kind::write) {
                std::vector<uint8_t> h(8);
                util::store_be64(h, 0, TRY(hash_region(image, s.offset, s.data.size())));
                TRY(undo->write(record_at[i] + 32, h));
            }
            ++i;
        }
        std::vector<uint8_t> field(8);
        util::store_be64(field, 0, image.size());
        TRY(undo->write(48, field));
        util::store_be64(field, 0, TRY(hash_region(image, 0, std::min(image.size(), fingerprint_bytes))));
        TRY(undo->write(56, field));
        util::store_be64(field, 0, 1);
        TRY(undo->write(32, field)); // completed
        TRY(undo->flush());
    }
    return {};
}

Result<void> apply_undo(io::BlockDevice& undo, io::BlockDevice& image)
{
    std::vector<uint8_t> head(header_size);
    if (undo.size() >= magic_size) {
        std::vector<uint8_t> magic(magic_size);
        TRY(undo.read(0, magic));
        if (std::memcmp(magic.data(), undo_magic_v1, magic_size) == 0)
            return fail(Errc::unsupported_feature, "'{}' was written by an older imgmend, whose undo files cannot be checked "
                                           "against the image; it is not applied",
                        undo.name());
    }
    if (undo.size() < head.size())
        return fail(Errc::bad_magic, "'{}' is not an imgmend undo file", undo.name());
    TRY(undo.read(0, head));
    if (std::memcmp(head.data(), undo_magic, magic_size) != 0)
        return fail(Errc::bad_magic, "'{}' is not an imgmend undo file", undo.name());
    uint64_t original_size = util::load_be64(head, 16);
    uint64_t records = util::load_be64(head, 24);
    bool completed = util::load_be64(head, 32) == 1;
    uint64_t planned_size = util::load_be64(head, 40);
    uint64_t final_size = util::load_be64(head, 48);
    uint64_t fingerprint = util::load_be64(head, 56);
    struct Record {
        uint64_t offset, length, kind, intended, left, at;
    };
    std::vector<Record> list;
    uint64_t pos = header_size;
    // Each record is at least record_head bytes of the file, so the count is bounded.
    for (uint64_t i = 0; i < records; ++i) {
        if (!util::range_within(pos, record_head, undo.size()))
            return fail(Errc::truncated, "undo file '{}' is truncated at record {}", undo.name(), i);
        std::vector<uint8_t> rec(record_head);
        TRY(undo.read(pos, rec));
        Record r{util::load_be64(rec, 0),  util::load_be64(rec, 8),  util::load_be64(rec, 16),
                 util::load_be64(rec, 24), util::load_be64(rec, 32), pos + record_head};
        if (!util::range_within(r.at, r.length, undo.size()))
            return fail(Errc::truncated, "undo file '{}' is truncated at record {}", undo.name(), i);
        if (r.kind != kind_write && r.kind != kind_discard)
            return fail(Errc::corrupt_metadata, "undo file '{}': record {} has an unknown kind {}", undo.name(), i,
                        r.kind);
        list.push_back(r);
        pos = r.at + r.length;
    }

    // Is this the image the repair left? Nothing is written unless it is.
    auto refuse = [&](std::string why) {
        return fail(Errc::invalid_argument,
                    "'{}' is not the image '{}' was made for, or it changed since the repair ({}); nothing was "
                    "restored",
                    image.name(), undo.name(), why);
    };
    if (completed && image.size() != final_size)
        return refuse(fmt::format("its size is {}, the repair left {}", image.size(), final_size));
    if (!completed && (image.size() < original_size || image.size() > std::max(original_size, planned_size)))
        return refuse(fmt::format("its size {} is outside {}..{}", image.size(), original_size, planned_size));
    for (const Record& r : list) {
        if (r.kind != kind_write)
            continue; // freed clusters: what they hold now is checked through the refcounts written
        uint64_t now = TRY(hash_region(image, r.offset, r.length));
        if (completed ? now == r.left : (now == r.intended || now == TRY(hash_region(undo, r.at, r.length))))
            continue;
        return refuse(fmt::format("the {} bytes at offset {:#x} differ from what the repair wrote", r.length,
                                  r.offset));
    }
    if (completed && TRY(hash_region(image, 0, std::min(image.size(), fingerprint_bytes))) != fingerprint)
        return refuse("its first MiB differs from what the repair left");

    for (auto it = list.rbegin(); it != list.rend(); ++it)
        TRY(copy_region(undo, it->at, image, it->offset, it->length, false));
    if (image.size() != original_size && image.can_resize())
        TRY(image.resize(original_size));
    return image.flush();
}

} // namespace imgmend::io
