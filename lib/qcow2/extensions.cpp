#include "qcow2/extensions.hpp"

#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

namespace {

constexpr size_t feature_entry_size = 48;

std::string c_string(std::span<const uint8_t> bytes)
{
    auto end = std::find(bytes.begin(), bytes.end(), uint8_t{0});
    return std::string(bytes.begin(), end);
}

Result<void> parse_one(Extensions& ext, uint32_t type, std::span<const uint8_t> data, uint64_t at)
{
    util::Cursor c(data);
    switch (type) {
    case ext_backing_format:
        ext.backing_format = std::string(data.begin(), data.end());
        break;
    case ext_data_file:
        ext.data_file = std::string(data.begin(), data.end());
        break;
    case ext_feature_names:
        for (size_t i = 0; i + feature_entry_size <= data.size(); i += feature_entry_size)
            ext.feature_names.push_back({static_cast<FeatureType>(data[i]), data[i + 1],
                                         c_string(data.subspan(i + 2, feature_entry_size - 2))});
        break;
    case ext_bitmaps: {
        BitmapsExtension b;
        b.nb_bitmaps = c.be32();
        uint32_t reserved = c.be32();
        b.directory_size = c.be64();
        b.directory_offset = c.be64();
        if (c.overrun())
            return fail(Errc::corrupt_metadata, "bitmaps extension at {:#x} is too short ({} bytes)", at,
                        data.size());
        if (reserved != 0)
            return fail(Errc::corrupt_metadata, "bitmaps extension at {:#x} has non-zero reserved field", at);
        ext.bitmaps = b;
        break;
    }
    case ext_encryption: {
        EncryptionExtension e;
        e.offset = c.be64();
        e.length = c.be64();
        if (c.overrun())
            return fail(Errc::corrupt_metadata, "encryption extension at {:#x} is too short ({} bytes)", at,
                        data.size());
        ext.encryption = e;
        break;
    }
    default:
        ext.unknown.push_back({type, std::vector<uint8_t>(data.begin(), data.end())});
        break;
    }
    ext.all.push_back({type, std::vector<uint8_t>(data.begin(), data.end())});
    return {};
}

} // namespace

Result<Extensions> parse_extensions(const Header& header, std::span<const uint8_t> cluster)
{
    Extensions ext;
    // Extensions end at the backing file name if it follows them, else at the
    // end of the header cluster.
    uint64_t end = std::min<uint64_t>(cluster.size(), header.cluster_size());
    if (header.backing_file_offset != 0 && header.backing_file_offset > header.header_length)
        end = std::min<uint64_t>(end, header.backing_file_offset);
    uint64_t pos = header.header_length;
    // Each step consumes at least 8 bytes, so the loop ends within the cluster.
    while (pos + 8 <= end) {
        uint32_t type = util::load_be32(cluster, pos);
        uint32_t length = util::load_be32(cluster, pos + 4);
        if (type == ext_end)
            break;
        uint64_t data_at = pos + 8;
        if (!util::range_within(data_at, length, end))
            return fail(Errc::corrupt_metadata, "header extension {:#x} at {:#x} (length {}) overruns the header",
                        type, pos, length);
        TRY(parse_one(ext, type, cluster.subspan(data_at, length), pos));
        pos = *util::align_up(data_at + length, 8);
    }
    return ext;
}

std::string feature_name(const Extensions& ext, FeatureType type, unsigned bit)
{
    for (const auto& f : ext.feature_names)
        if (f.type == type && f.bit == bit)
            return f.name;
    return fmt::format("unknown feature bit {}", bit);
}

} // namespace imgmend::qcow2
