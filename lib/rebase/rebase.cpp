// Safe rebase: for every subcluster the overlay does not allocate, compare
// what the old chain and the new backing return (window_compare.cpp, which
// reads only what block status cannot settle); where they differ, write the
// old chain's data into the overlay (a zero subcluster where the old side
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
#include "rebase/window_compare.hpp"
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
    Sides sides{old_chain ? &*old_chain : nullptr, new_chain ? &*new_chain : nullptr, in_chain};
    WindowCompare compare(*image, sides, writer, options.compress, stats);
    const uint64_t end = util::div_round_up(g.virtual_size, g.cluster_size) * g.cluster_size;
    for (uint64_t start = 0; start < end; start += WindowCompare::window_bytes) {
        TRY(compare.run(start));
        if (options.progress)
            options.progress(std::min(start + WindowCompare::window_bytes, end), end);
    }
    TRY(writer.write_pending());
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
