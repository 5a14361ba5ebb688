#include "formats/chain.hpp"

#include "formats/qcow2_layer.hpp"
#include "formats/raw_layer.hpp"
#include "io/file_device.hpp"
#include "qcow2/limits.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace imgmend::formats {

using util::Errc;
using util::fail;

std::string resolve_backing_path(const std::string& overlay_path, const std::string& backing_name)
{
    if (backing_name.starts_with('/'))
        return backing_name;
    auto slash = overlay_path.rfind('/');
    if (slash == std::string::npos)
        return backing_name;
    return overlay_path.substr(0, slash + 1) + backing_name;
}

namespace {

Result<std::shared_ptr<io::FileDevice>> open_file(const std::string& path, io::LockMode lock)
{
    return io::FileDevice::open(path, io::Access::read_only, lock);
}

Result<std::unique_ptr<Layer>> make_layer(std::shared_ptr<io::FileDevice> dev, const std::optional<Format>& format,
                                          io::LockMode lock)
{
    Result<Format> f = format ? Result<Format>(*format) : probe_format(*dev);
    if (!f)
        return std::move(f).error();
    if (*f == Format::raw)
        return std::unique_ptr<Layer>(new RawLayer(std::move(dev)));
    std::string path = dev->name();
    auto image = qcow2::Image::open(std::move(dev));
    if (!image)
        return util::Unexpected{util::Error{image.error().code,
                                            fmt::format("Could not open '{}': {}", path, image.error().message),
                                            image.error().offset}};
    if ((*image)->needs_data_file()) {
        std::string data_path = resolve_backing_path(path, *(*image)->extensions().data_file);
        auto data = open_file(data_path, lock);
        if (!data)
            return fail(data.error().code, "Could not open data file '{}': {}", data_path, data.error().message);
        (*image)->set_data_file(std::move(*data));
    }
    return std::unique_ptr<Layer>(new Qcow2Layer(std::move(*image)));
}

} // namespace

Result<std::unique_ptr<Layer>> open_layer(const std::string& path, std::optional<Format> format, io::LockMode lock)
{
    return make_layer(TRY(open_file(path, lock)), format, lock);
}

Result<Chain> Chain::open(const std::string& path, const OpenOptions& options)
{
    Chain chain;
    std::set<std::pair<uint64_t, uint64_t>> seen; // (device, inode) of every layer
    std::string current = path;
    std::optional<Format> format = options.format;
    // Each step opens a distinct file (loops are refused), at most 64 deep.
    for (int depth = 0;; ++depth) {
        if (depth >= qcow2::max_chain_depth)
            return fail(Errc::out_of_range, "Backing chain of '{}' is deeper than {} images", path,
                        qcow2::max_chain_depth);
        auto dev = open_file(current, options.lock);
        if (!dev && depth > 0)
            return fail(dev.error().code, "Could not open backing file '{}': {}", current, dev.error().message);
        if (!dev)
            return std::move(dev).error();
        if (!seen.insert({(*dev)->device_id(), (*dev)->inode()}).second)
            return fail(Errc::corrupt_metadata, "Backing chain of '{}' has a loop: '{}' appears twice", path, current);
        chain.layers_.push_back(TRY(make_layer(std::move(*dev), format, options.lock)));
        Layer& layer = *chain.layers_.back();
        if (options.backing == OpenOptions::Backing::skip || !layer.backing_name())
            break;
        format = std::nullopt;
        if (auto name = layer.backing_format()) {
            Result<Format> parsed = parse_format(*name);
            if (!parsed)
                return fail(parsed.error().code, "Backing file of '{}': {}", current, parsed.error().message);
            format.emplace(*parsed);
        }
        current = resolve_backing_path(current, *layer.backing_name());
    }
    return chain;
}

Result<ChainStatus> Chain::status(uint64_t offset, uint64_t max_length)
{
    size_t d = 0;
    uint64_t max = std::min(max_length, layers_[0]->size() - offset);
    // Descends one layer per step; the chain is finite.
    for (;;) {
        LayerStatus s = TRY(layers_[d]->status(offset, max));
        ChainStatus c;
        c.length = s.length;
        c.depth = static_cast<int>(d);
        if (s.allocated()) {
            c.present = true;
            c.data = s.data;
            c.zero = s.zero;
            c.compressed = s.compressed;
            c.offset = s.offset;
            c.file = s.file;
            return c;
        }
        // Unallocated with nothing (or nothing this far) below: zeros (with
        // the host offset of a preallocated cluster, as qemu reports it).
        if (d + 1 == layers_.size() || offset >= layers_[d + 1]->size()) {
            c.zero = true;
            c.offset = s.offset;
            c.file = s.file;
            return c;
        }
        max = std::min(s.length, layers_[d + 1]->size() - offset);
        ++d;
    }
}

Result<void> Chain::read(uint64_t offset, std::span<uint8_t> out)
{
    uint64_t done = 0;
    while (done < out.size()) {
        uint64_t pos = offset + done;
        uint64_t want = out.size() - done;
        if (pos >= size())
            return fail(Errc::invalid_argument, "read at {:#x} is beyond the image size", pos);
        ChainStatus c = TRY(status(pos, want));
        auto piece = out.subspan(done, c.length);
        if (c.present && c.data) {
            LayerStatus s{c.length, c.data, c.zero, c.offset, c.file, c.compressed};
            TRY(layers_[c.depth]->read(pos, s, piece));
        } else {
            std::fill(piece.begin(), piece.end(), 0);
        }
        done += c.length;
    }
    return {};
}

} // namespace imgmend::formats
