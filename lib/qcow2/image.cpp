#include "qcow2/image.hpp"

#include "qcow2/limits.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

namespace {

Result<void> refuse_unknown_incompatible(const Header& h, const Extensions& ext)
{
    uint64_t unknown = h.incompatible_features & ~incompat_known;
    if (unknown == 0)
        return {};
    std::string names;
    for (unsigned bit = 0; bit < 64; ++bit)
        if (unknown >> bit & 1)
            names += (names.empty() ? "" : ", ") + feature_name(ext, FeatureType::incompatible, bit);
    return fail(Errc::unsupported_feature, "Unsupported qcow2 feature(s): {} (incompatible bits {:#x})", names, unknown);
}

} // namespace

Result<std::unique_ptr<Image>> Image::open(io::DevicePtr file)
{
    std::unique_ptr<Image> img(new Image());
    img->file_ = std::move(file);
    io::BlockDevice& dev = *img->file_;

    std::vector<uint8_t> first(std::min<uint64_t>(dev.size(), v3_header_length + 8));
    TRY(dev.read(0, first));
    img->header_ = TRY(parse_header(first));
    const Header& h = img->header_;

    // The header cluster holds the extensions and the backing name.
    std::vector<uint8_t> cluster(std::min<uint64_t>(dev.size(), h.cluster_size()));
    TRY(dev.read(0, cluster));
    if (cluster.size() < h.header_length)
        return fail(Errc::truncated, "qcow2 header is truncated: file has {} bytes, header_length is {}",
                    cluster.size(), h.header_length);
    img->extensions_ = TRY(parse_extensions(h, cluster));
    TRY(refuse_unknown_incompatible(h, img->extensions_));
    if (h.has_data_file() && !img->extensions_.data_file)
        return fail(Errc::corrupt_metadata, "image has the external data file bit but no data file name extension");
    if (h.backing_file_offset != 0) {
        if (!util::range_within(h.backing_file_offset, h.backing_file_size, cluster.size()))
            return fail(Errc::truncated, "backing file name at {:#x} extends beyond end of file",
                        h.backing_file_offset);
        img->backing_name_ = std::string(cluster.begin() + static_cast<ptrdiff_t>(h.backing_file_offset),
                                         cluster.begin() + static_cast<ptrdiff_t>(h.backing_file_offset +
                                                                                  h.backing_file_size));
        if (img->backing_name_->empty())
            img->backing_name_.reset();
    }
    img->geometry_ = make_geometry(h);
    TRY(img->load_l1());
    return img;
}

Result<void> Image::load_l1()
{
    // Only the part of the L1 table inside the file is read; the rest reads
    // as zero. This bounds the allocation by the file size as well as by
    // the 32 MiB cap checked in parse_header.
    l1_ = TRY(io::read_be64_table(*file_, header_.l1_table_offset, uint64_t{header_.l1_size} * 8));
    return {};
}

std::vector<L2Entry> decode_l2_table(const Geometry& g, std::span<const uint8_t> bytes)
{
    std::vector<L2Entry> entries(g.l2_entries);
    for (uint64_t i = 0; i < g.l2_entries; ++i) {
        entries[i].raw = util::load_be64(bytes, i * g.l2_entry_bytes);
        if (g.l2_entry_bytes == 16)
            entries[i].bitmap = util::load_be64(bytes, i * 16 + 8);
    }
    return entries;
}

uint64_t L2Table::raw(uint64_t index) const { return util::load_be64(bytes_, index * entry_bytes_); }

L2Entry L2Table::operator[](uint64_t index) const
{
    L2Entry e;
    e.raw = raw(index);
    if (entry_bytes_ == 16)
        e.bitmap = util::load_be64(bytes_, index * 16 + 8);
    return e;
}

Result<const L2Table*> Image::l2_table(uint64_t l2_offset)
{
    constexpr size_t cache_slots = 16;
    for (auto& slot : l2_cache_)
        if (slot.offset == l2_offset)
            return &slot.table;
    std::vector<uint8_t> bytes(geometry_.cluster_size);
    // Like qemu, a table past the end of a short file reads as zeros.
    TRY(file_->read_zero_padded(l2_offset, bytes));
    if (l2_cache_.size() < cache_slots)
        l2_cache_.push_back({});
    CachedL2& slot = l2_cache_[l2_cache_next_];
    l2_cache_next_ = (l2_cache_next_ + 1) % cache_slots;
    slot.offset = l2_offset;
    slot.table = L2Table(geometry_, std::move(bytes));
    return &slot.table;
}

} // namespace imgmend::qcow2
