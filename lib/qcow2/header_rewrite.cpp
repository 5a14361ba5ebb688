#include "qcow2/header_rewrite.hpp"

#include "qcow2/limits.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

#include <algorithm>

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

uint64_t header_bytes_used(const Header& h, const Extensions& ext)
{
    uint64_t end = h.header_length;
    for (const auto& e : ext.all)
        end += 8 + *util::align_up(e.data.size(), 8);
    end += 8; // end marker
    if (h.backing_file_offset != 0)
        end = std::max<uint64_t>(end, h.backing_file_offset + h.backing_file_size);
    return std::min(end, h.cluster_size());
}

Result<std::vector<uint8_t>> rewrite_header(const Header& header, const Extensions& ext,
                                            const BackingReference& backing, uint64_t old_used)
{
    if (backing.name.size() > max_backing_name)
        return fail(Errc::invalid_argument, "backing file name is too long: {} bytes (at most {})",
                    backing.name.size(), max_backing_name);
    std::vector<RawExtension> extensions;
    bool placed = false;
    auto format_ext = [&] {
        return RawExtension{ext_backing_format,
                                   std::vector<uint8_t>(backing.format.begin(), backing.format.end())};
    };
    for (const auto& e : ext.all) {
        if (e.type != ext_backing_format) {
            extensions.push_back(e);
            continue;
        }
        if (!backing.format.empty() && !backing.name.empty() && !placed)
            extensions.push_back(format_ext());
        placed = true;
    }
    if (!placed && !backing.format.empty() && !backing.name.empty())
        extensions.insert(extensions.begin(), format_ext());

    uint64_t size = header.header_length;
    for (const auto& e : extensions)
        size += 8 + *util::align_up(e.data.size(), 8);
    size += 8;
    uint64_t name_offset = size;
    size += backing.name.size();
    if (size > header.cluster_size())
        return fail(Errc::no_space, "the header with backing file name '{}' needs {} bytes, more than its {}-byte cluster",
                    backing.name, size, header.cluster_size());

    Header h = header;
    h.backing_file_offset = backing.name.empty() ? 0 : name_offset;
    h.backing_file_size = static_cast<uint32_t>(backing.name.size());
    std::vector<uint8_t> out(std::max(size, old_used), 0);
    serialize_header(h, out);
    uint64_t pos = h.header_length;
    for (const auto& e : extensions) {
        util::store_be32(out, pos, e.type);
        util::store_be32(out, pos + 4, static_cast<uint32_t>(e.data.size()));
        std::copy(e.data.begin(), e.data.end(), out.begin() + static_cast<ptrdiff_t>(pos + 8));
        pos += 8 + *util::align_up(e.data.size(), 8);
    }
    pos += 8; // end marker: already zero
    std::copy(backing.name.begin(), backing.name.end(), out.begin() + static_cast<ptrdiff_t>(pos));
    return out;
}

} // namespace imgmend::qcow2
