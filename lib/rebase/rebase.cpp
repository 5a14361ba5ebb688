// Safe rebase: for every subcluster the overlay does not allocate, compare
// what the old chain and the new backing return; where they differ, write
// the old chain's data into the overlay (a zero subcluster where the old side
// reads zeros). Writes are whole subclusters, so nothing partial and no
// copy-on-write. Order on disk: data (into unreferenced space), flush;
// refcounts, flush; L2 then L1 tables, flush; the header's backing
// reference, flush. Until the header switch the overlay reads as before
// through the old backing; after it, the same through the new one.
#include "rebase/rebase.hpp"

#include "formats/chain.hpp"
#include "qcow2/image.hpp"
#include "rebase/allocator.hpp"
#include "qcow2/header_rewrite.hpp"
#include "rebase/overlay_writer.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>
#include <sys/stat.h>

namespace imgmend::rebase {

using util::Errc;
using util::fail;

namespace {

std::optional<std::pair<dev_t, ino_t>> identity(const std::string& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    return std::make_pair(st.st_dev, st.st_ino);
}

std::string format_name(formats::Format f) { return f == formats::Format::raw ? "raw" : "qcow2"; }

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

bool all_zero(std::span<const uint8_t> bytes)
{
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

} // namespace

Result<RebaseStats> rebase_overlay(const std::string& path, io::DevicePtr overlay, const RebaseOptions& options)
{
    RebaseStats stats;
    auto image = TRY(qcow2::Image::open(overlay));
    const qcow2::Header& h = image->header();
    const qcow2::Geometry& g = image->geometry();

    // Everything that can be refused is refused before any data moves.
    if (!options.backing.empty() && !options.backing_format)
        return fail(Errc::invalid_argument, "a backing format is required with a new backing file (use -F)");
    qcow2::BackingReference reference{options.backing,
                               options.backing.empty() ? "" : format_name(*options.backing_format)};
    uint64_t old_used = qcow2::header_bytes_used(h, image->extensions());
    std::vector<uint8_t> header = TRY(qcow2::rewrite_header(h, image->extensions(), reference, old_used));
    if (h.crypt_method != qcow2::CryptMethod::none && options.mode == Mode::safe)
        return fail(Errc::unsupported_feature, "safe rebase of an encrypted image is not supported");

    io::Plan plan;
    if (options.mode == Mode::unsafe) {
        plan.write(0, std::move(header), "header with the new backing reference");
        TRY(io::execute(plan, *overlay, nullptr));
        return stats;
    }

    formats::OpenOptions open;
    open.lock = options.backing_lock;
    std::optional<formats::Chain> old_chain, new_chain;
    if (image->backing_name()) {
        std::string old_path = formats::resolve_backing_path(path, *image->backing_name());
        if (image->extensions().backing_format)
            open.format = TRY(formats::parse_format(*image->extensions().backing_format));
        auto c = formats::Chain::open(old_path, open);
        if (!c)
            return fail(c.error().code, "Could not open old backing file '{}': {}", old_path, c.error().message);
        old_chain.emplace(std::move(*c));
    }
    auto self = identity(path);
    size_t in_chain = SIZE_MAX; // depth in the old chain of the new backing
    if (!options.backing.empty()) {
        std::string new_path = formats::resolve_backing_path(path, options.backing);
        open.format = options.backing_format;
        auto c = formats::Chain::open(new_path, open);
        if (!c)
            return fail(c.error().code, "Could not open new backing file '{}': {}", new_path, c.error().message);
        new_chain.emplace(std::move(*c));
        for (size_t i = 0; i < new_chain->depth(); ++i)
            if (identity(new_chain->layer(i).filename()) == self)
                return fail(Errc::invalid_argument, "'{}' would be its own backing file (a loop in the chain)", path);
        if (old_chain)
            for (size_t i = 0; i < old_chain->depth(); ++i)
                if (identity(old_chain->layer(i).filename()) == identity(new_chain->top().filename()))
                    in_chain = std::min(in_chain, i);
    }

    ClusterAllocator allocator(*image);
    OverlayWriter writer(*image, allocator);
    const uint64_t cs = g.cluster_size;
    const uint64_t scs = g.subcluster_size;
    const uint64_t clusters = util::div_round_up(g.virtual_size, cs);
    const uint64_t batch = std::max<uint64_t>(1, (1u << 20) / cs);
    const bool zero_clusters = h.version >= 3;
    std::vector<uint8_t> old_data, new_data;
    std::vector<uint32_t> unallocated(batch);
    for (uint64_t first = 0; first < clusters; first += batch) {
        uint64_t last = std::min(clusters, first + batch);
        bool any = false;
        for (uint64_t gc = first; gc < last; ++gc) {
            uint32_t mask = 0;
            // range_status merges subclusters of one kind; walk the cluster.
            for (uint64_t pos = gc * cs; pos < std::min((gc + 1) * cs, g.virtual_size);) {
                auto r = TRY(image->range_status(pos, (gc + 1) * cs - pos));
                if (r.kind == qcow2::RangeKind::unallocated)
                    for (uint64_t p = pos; p < pos + r.length; p += scs)
                        mask |= 1u << ((p % cs) / scs);
                pos += r.length;
            }
            unallocated[gc - first] = mask;
            any |= mask != 0;
        }
        if (options.progress)
            options.progress(last * cs, clusters * cs);
        if (!any)
            continue;
        uint64_t start = first * cs;
        uint64_t length = (last - first) * cs;
        // Ranges the old chain answers from the new backing or below read
        // the same on both sides: no need to read them.
        std::vector<bool> same((last - first) * g.subclusters, false);
        if (in_chain != SIZE_MAX) {
            for (uint64_t pos = start; pos < std::min(start + length, old_chain->size());) {
                auto st = TRY(old_chain->status(pos, std::min(start + length, old_chain->size()) - pos));
                if (static_cast<size_t>(st.depth) >= in_chain)
                    for (uint64_t p = util::align_down(pos, scs); p < pos + st.length; p += scs)
                        if (p >= pos && p + scs <= pos + st.length)
                            same[(p - start) / scs] = true;
                pos += st.length;
            }
        }
        bool need_read = false;
        for (uint64_t gc = first; gc < last; ++gc)
            for (uint32_t sc = 0; sc < g.subclusters; ++sc)
                if ((unallocated[gc - first] >> sc & 1) && !same[(gc - first) * g.subclusters + sc])
                    need_read = true;
        if (!need_read) {
            stats.bytes_skipped_in_chain += length;
            continue;
        }
        old_data.resize(length);
        new_data.resize(length);
        TRY(read_or_zero(old_chain ? &*old_chain : nullptr, start, old_data));
        TRY(read_or_zero(new_chain ? &*new_chain : nullptr, start, new_data));
        stats.bytes_compared += length;
        for (uint64_t gc = first; gc < last; ++gc) {
            ClusterUpdate u;
            u.guest_cluster = gc;
            uint64_t base = (gc - first) * cs;
            for (uint32_t sc = 0; sc < g.subclusters; ++sc) {
                if (!(unallocated[gc - first] >> sc & 1) || same[(gc - first) * g.subclusters + sc])
                    continue;
                auto o = std::span<const uint8_t>(old_data).subspan(base + sc * scs, scs);
                auto n = std::span<const uint8_t>(new_data).subspan(base + sc * scs, scs);
                if (std::equal(o.begin(), o.end(), n.begin()))
                    continue;
                if (zero_clusters && all_zero(o))
                    u.zero_mask |= 1u << sc;
                else
                    u.write_mask |= 1u << sc;
            }
            if (!u.write_mask && !u.zero_mask)
                continue;
            u.data.assign(old_data.begin() + static_cast<ptrdiff_t>(base),
                          old_data.begin() + static_cast<ptrdiff_t>(base + cs));
            bool whole_cluster_free = unallocated[gc - first] == (g.subclusters == 32 ? 0xffffffffu : 1u);
            u.compress = options.compress == Compress::yes && u.write_mask && whole_cluster_free;
            stats.subclusters_written += static_cast<uint64_t>(__builtin_popcount(u.write_mask));
            stats.zero_subclusters += static_cast<uint64_t>(__builtin_popcount(u.zero_mask));
            TRY(writer.apply(u));
        }
    }
    TRY(overlay->flush()); // the data, before anything points at it
    TRY(allocator.plan_refcounts(plan));
    if (auto moved = allocator.moved_table()) {
        // The header rewritten last must keep the table the refcounts moved to.
        util::store_be64(header, 48, moved->first);
        util::store_be32(header, 56, moved->second);
    }
    TRY(writer.plan_tables(plan));
    plan.write(0, std::move(header), "header with the new backing reference");
    TRY(io::execute(plan, *overlay, nullptr));
    stats.clusters_allocated = writer.clusters_allocated();
    stats.compressed_clusters = writer.compressed_clusters();
    return stats;
}

} // namespace imgmend::rebase
