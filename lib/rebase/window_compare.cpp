// What is looked at, per unallocated subcluster of the overlay, from the
// block status of both sides (known zero: unallocated through the whole
// chain, a zero flag, or past the chain's end):
//
//   old side answered by the new backing (in-chain)  nothing: reads the same
//   old zero, new zero                               nothing
//   old zero, new data                               new: a zero subcluster unless it reads zeros
//   old data, new zero                               old: written unless it reads zeros
//   old data, new data                               both, compared
//
// which gives the result of comparing every byte, as qemu-img does. Data of
// both sides is mapped where the host allows, not copied: compared in place, and
// what is written goes from the mapping to the overlay (O_DIRECT where
// aligned), coalesced while adjacent in the mapping and on the host. Data
// that cannot be mapped (compressed, past the end of a file) is read into a
// buffer instead; old_buf_ also gathers clusters whose bytes are split.
#include "rebase/window_compare.hpp"

#include "util/checked.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace imgmend::rebase {

namespace {

// What a chain reads at [offset, offset + out.size()), zeros past its end.
Result<void> read_or_zero(formats::Chain* chain, uint64_t offset, std::span<uint8_t> out)
{
    uint64_t have = 0;
    if (chain && offset < chain->size())
        have = std::min<uint64_t>(out.size(), chain->size() - offset);
    if (have)
        TRY(chain->read(offset, out.first(have)));
    std::fill(out.begin() + static_cast<ptrdiff_t>(have), out.end(), 0);
    return {};
}

// memcmp against itself shifted by one byte: every byte equals the next,
// and the first is zero.
bool all_zero(const uint8_t* bytes, size_t length)
{
    return length == 0 || (bytes[0] == 0 && std::memcmp(bytes, bytes + 1, length - 1) == 0);
}

bool known_zero(const formats::ChainStatus& st) { return st.zero || !st.data; }


} // namespace

WindowCompare::WindowCompare(qcow2::Image& image, Sides sides, OverlayWriter& writer, Compress compress,
                             RebaseStats& stats)
    : image_(image), g_(image.geometry()), sides_(sides), writer_(writer), compress_(compress), stats_(stats),
      zero_clusters_(image.header().version >= 3), flags_(window_bytes / image.geometry().subcluster_size),
      old_buf_(new(buffer_alignment) uint8_t[window_bytes]), new_buf_(new(buffer_alignment) uint8_t[window_bytes]),
      old_{sides.old_chain, old_zero, old_buf_.get(), {}, 0}, new_{sides.new_chain, new_zero, new_buf_.get(), {}, 0}
{
}

void WindowCompare::clear(uint64_t from, uint64_t to, uint8_t flag)
{
    const uint64_t scs = g_.subcluster_size;
    for (uint64_t i = from / scs; i < util::div_round_up(to, scs) && i < count_; ++i)
        flags_[i] &= static_cast<uint8_t>(~flag);
}

bool WindowCompare::needs(const Side& side, size_t index) const
{
    const uint8_t f = flags_[index];
    return (f & unallocated) && !(f & same) && !(f & side.zero_flag);
}

// Records the block status of `side` over subclusters [first, last), and
// clears its zero flag (and `same` when tracked) where a piece is not known
// zeros (or not answered from the new backing).
Result<void> WindowCompare::classify(Side& side, size_t first, size_t last, bool track_same)
{
    const uint64_t scs = g_.subcluster_size;
    const uint64_t from = first * scs;
    const uint64_t to = last * scs;
    const uint64_t limit = side.chain ? std::min(to, side.chain->size() - std::min(side.chain->size(), start_)) : from;
    // Each step moves forward by the piece's length (at least one byte).
    for (uint64_t pos = from; pos < limit;) {
        formats::ChainStatus st = TRY(side.chain->status(start_ + pos, limit - pos));
        side.pieces.push_back(Piece{pos, pos + st.length, st});
        if (!known_zero(st))
            clear(pos, pos + st.length, side.zero_flag);
        if (track_same && static_cast<size_t>(st.depth) < sides_.in_chain)
            clear(pos, pos + st.length, same);
        pos += st.length;
    }
    // Past its end the old chain reads zeros, whatever the new backing holds.
    if (track_same && limit < to)
        clear(std::max(limit, from), to, same);
    return {};
}

// Gives every data piece some of whose subclusters need this side its
// bytes: mapped where the device allows (no copy: compared in place, and
// written from the mapping), else read into the side's buffer.
Result<void> WindowCompare::load(Side& side)
{
    const uint64_t scs = g_.subcluster_size;
    for (Piece& p : side.pieces) {
        if (known_zero(p.status))
            continue;
        uint64_t from = p.to, to = p.from;
        for (uint64_t i = p.from / scs; i < util::div_round_up(p.to, scs); ++i) {
            if (!needs(side, i))
                continue;
            from = std::min(from, std::max(p.from, i * scs));
            to = std::max(to, std::min(p.to, (i + 1) * scs));
        }
        if (from >= to)
            continue;
        const formats::ChainStatus& st = p.status;
        p.loaded_from = from;
        if (!st.compressed && st.offset && st.file) {
            if (auto m = st.file->map(*st.offset + (from - p.from), to - from)) {
                p.bytes = m->bytes().data();
                p.mapping = std::move(m);
                continue;
            }
        }
        TRY(read_or_zero(side.chain, start_ + from, std::span<uint8_t>(side.buf + from, to - from)));
        p.bytes = side.buf + from;
    }
    return {};
}

// The loaded piece of the old side that holds all of [from, to), if one does.
const WindowCompare::Piece* WindowCompare::old_piece_holding(uint64_t from, uint64_t to) const
{
    for (size_t k = old_.cursor; k < old_.pieces.size() && old_.pieces[k].from < to; ++k) {
        const Piece& p = old_.pieces[k];
        if (p.to <= from)
            continue;
        return p.bytes && p.loaded_from <= from && p.to >= to ? &p : nullptr;
    }
    return nullptr;
}

// The side's bytes at window offset `pos` (nullptr: zeros) up to `end`.
// Positions only move forward within a window.
const uint8_t* WindowCompare::locate(Side& side, uint64_t pos, uint64_t& end)
{
    while (side.cursor < side.pieces.size() && side.pieces[side.cursor].to <= pos)
        ++side.cursor;
    if (side.cursor == side.pieces.size()) {
        end = UINT64_MAX;
        return nullptr;
    }
    const Piece& p = side.pieces[side.cursor];
    if (p.from > pos) {
        end = p.from;
        return nullptr;
    }
    end = p.to;
    // Only subclusters that needed this side are looked at, and load() gave
    // their data pieces bytes.
    assert(known_zero(p.status) || (p.bytes && pos >= p.loaded_from));
    return p.bytes ? p.bytes + (pos - p.loaded_from) : nullptr;
}

bool WindowCompare::differs(size_t index, bool& old_reads_zero)
{
    const uint64_t scs = g_.subcluster_size;
    const uint64_t from = index * scs, to = from + scs;
    const size_t old_cursor = old_.cursor;
    bool differ = false;
    for (uint64_t pos = from, o_end = 0, n_end = 0; pos < to && !differ;) {
        const uint8_t* o = locate(old_, pos, o_end);
        const uint8_t* n = locate(new_, pos, n_end);
        uint64_t end = std::min({to, o_end, n_end});
        size_t length = static_cast<size_t>(end - pos);
        differ = o && n ? std::memcmp(o, n, length) != 0 : o ? !all_zero(o, length) : n && !all_zero(n, length);
        pos = end;
    }
    if (!differ)
        return false;
    old_.cursor = old_cursor;
    old_reads_zero = true;
    for (uint64_t pos = from, end = 0; pos < to && old_reads_zero; pos = std::min(to, end)) {
        const uint8_t* o = locate(old_, pos, end);
        old_reads_zero = !o || all_zero(o, static_cast<size_t>(std::min(to, end) - pos));
    }
    old_.cursor = old_cursor;
    return true;
}

// Puts the old side's bytes of subcluster `index` into old_buf_.
void WindowCompare::fill_old(size_t index)
{
    const uint64_t scs = g_.subcluster_size;
    const uint64_t from = index * scs, to = from + scs;
    uint8_t* out = old_buf_.get();
    for (uint64_t pos = from, end = 0; pos < to; pos = std::min(to, end)) {
        const uint8_t* o = locate(old_, pos, end);
        size_t length = static_cast<size_t>(std::min(to, end) - pos);
        if (!o)
            std::memset(out + pos, 0, length);
        else if (o != out + pos)
            std::memcpy(out + pos, o, length);
    }
}

Result<void> WindowCompare::decide_cluster(size_t cluster)
{
    const uint64_t scs = g_.subcluster_size;
    const size_t base = cluster * g_.subclusters;
    const uint64_t from = cluster * g_.cluster_size, to = from + g_.cluster_size;
    const size_t old_cursor = old_.cursor;
    ClusterUpdate u;
    u.guest_cluster = (start_ + from) / g_.cluster_size;
    bool whole_cluster_free = true;
    for (uint32_t sc = 0; sc < g_.subclusters; ++sc) {
        const size_t i = base + sc;
        const uint8_t f = flags_[i];
        whole_cluster_free &= (f & unallocated) != 0;
        if (!(f & unallocated) || (f & same) || ((f & old_zero) && (f & new_zero)))
            continue;
        if (!(f & old_zero) && !(f & new_zero))
            stats_.bytes_compared += scs;
        bool old_reads_zero = false;
        if (!differs(i, old_reads_zero))
            continue;
        if (zero_clusters_ && old_reads_zero)
            u.zero_mask |= 1u << sc;
        else
            u.write_mask |= 1u << sc;
    }
    if (!u.write_mask && !u.zero_mask)
        return {};
    u.compress = compress_ == Compress::yes && u.write_mask && whole_cluster_free;
    uint8_t* buffer = old_buf_.get() + from;
    const uint8_t* data = buffer;
    old_.cursor = old_cursor;
    if (u.compress) { // the whole cluster, also what needed no comparing
        TRY(read_or_zero(sides_.old_chain, start_ + from, std::span<uint8_t>(buffer, g_.cluster_size)));
    } else if (const Piece* p = old_piece_holding(from, to)) {
        // Written straight from the mapping (or the buffer it was read into).
        data = p->bytes + (from - p->loaded_from);
        u.owner = p->mapping;
        if (p->mapping && p->mapping.get() != last_kept_) {
            last_kept_ = p->mapping.get();
            kept_bytes_ += p->mapping->bytes().size();
        }
    } else {
        for (uint32_t sc = 0; sc < g_.subclusters; ++sc)
            if (u.write_mask >> sc & 1)
                fill_old(base + sc);
    }
    u.data = std::span<const uint8_t>(data, g_.cluster_size);
    wrote_from_buffer_ |= !u.owner && u.write_mask;
    stats_.subclusters_written += static_cast<uint64_t>(__builtin_popcount(u.write_mask));
    stats_.zero_subclusters += static_cast<uint64_t>(__builtin_popcount(u.zero_mask));
    return writer_.apply(u);
}

Result<void> WindowCompare::run(uint64_t start)
{
    const uint64_t scs = g_.subcluster_size;
    const uint64_t image_end = util::div_round_up(g_.virtual_size, g_.cluster_size) * g_.cluster_size;
    const uint64_t end = std::min(start + window_bytes, image_end);
    start_ = start;
    count_ = static_cast<size_t>((end - start) / scs);
    std::fill(flags_.begin(), flags_.begin() + static_cast<ptrdiff_t>(count_), uint8_t{0});
    for (Side* side : {&old_, &new_}) {
        side->pieces.clear();
        side->cursor = 0;
    }

    // The overlay's own unallocated subclusters (a partial last subcluster
    // counts whole, as the overlay would allocate it whole).
    bool any = false;
    const uint8_t fresh = unallocated | old_zero | new_zero | (sides_.in_chain != SIZE_MAX ? same : 0);
    const uint64_t guest_end = std::min(end, g_.virtual_size);
    for (uint64_t pos = start; pos < guest_end;) {
        qcow2::RangeStatus r = TRY(image_.range_status(pos, guest_end - pos));
        if (r.kind == qcow2::RangeKind::unallocated) {
            const uint64_t stop = util::div_round_up(pos + r.length - start, scs);
            for (uint64_t i = (pos - start) / scs; i < stop; ++i)
                flags_[i] = fresh;
            any = true;
        }
        pos += r.length;
    }
    if (!any)
        return {};

    // Block status of both sides over each run of unallocated subclusters.
    for (size_t i = 0; i < count_;) {
        if (!(flags_[i] & unallocated)) {
            ++i;
            continue;
        }
        size_t last = i;
        while (last < count_ && (flags_[last] & unallocated))
            ++last;
        TRY(classify(old_, i, last, sides_.in_chain != SIZE_MAX));
        TRY(classify(new_, i, last, false));
        i = last;
    }
    for (size_t i = 0; i < count_; ++i)
        if ((flags_[i] & unallocated) && (flags_[i] & same))
            stats_.bytes_skipped_in_chain += scs;

    TRY(load(old_));
    TRY(load(new_));
    wrote_from_buffer_ = false;
    for (size_t cluster = 0; cluster < count_ / g_.subclusters; ++cluster)
        TRY(decide_cluster(cluster));
    // old_buf_ is reused by the next window; mapped data stays alive in the
    // writer as long as it needs it (bounded, as it counts in the RSS).
    constexpr uint64_t max_kept = uint64_t{16} << 20;
    if (!wrote_from_buffer_ && kept_bytes_ <= max_kept)
        return {};
    kept_bytes_ = 0;
    last_kept_ = nullptr;
    return writer_.write_pending();
}

} // namespace imgmend::rebase
