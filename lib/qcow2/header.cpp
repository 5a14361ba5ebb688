#include "qcow2/header.hpp"

#include "qcow2/limits.hpp"
#include "util/checked.hpp"
#include "util/cursor.hpp"

namespace imgmend::qcow2 {

using util::Errc;
using util::fail;

namespace {

Result<void> validate(const Header& h)
{
    if (h.version != 2 && h.version != 3)
        return fail(Errc::unsupported_feature, "Unsupported qcow2 version {}", h.version);
    // Too small is not a valid image; too large is beyond qemu's 2 MiB cap.
    if (h.cluster_bits < min_cluster_bits || h.cluster_bits > max_cluster_bits)
        return fail(h.cluster_bits < min_cluster_bits ? Errc::corrupt_metadata : Errc::out_of_range,
                    "Unsupported cluster size: 2^{} (header field cluster_bits at offset 20)", h.cluster_bits);
    if (h.header_length < (h.version == 2 ? v2_header_length : v3_header_length))
        return fail(Errc::corrupt_metadata, "qcow2 header too short: header_length {} (offset 100)",
                    h.header_length);
    if (h.header_length > h.cluster_size())
        return fail(Errc::corrupt_metadata, "qcow2 header exceeds cluster size: header_length {} (offset 100)",
                    h.header_length);
    if (h.refcount_order > max_refcount_order)
        return fail(Errc::corrupt_metadata, "Reference count entry width too large: refcount_order {} (offset 96)",
                    h.refcount_order);
    if (static_cast<uint32_t>(h.crypt_method) > 2)
        return fail(Errc::unsupported_feature, "Unsupported encryption method: {} (offset 32)",
                    static_cast<uint32_t>(h.crypt_method));
    auto ct = static_cast<uint8_t>(h.compression_type);
    if (ct > 1)
        return fail(Errc::unsupported_feature, "Unknown compression type {} (offset 104)", ct);
    if ((ct != 0) != bool(h.incompatible_features & incompat_compression))
        return fail(Errc::corrupt_metadata,
                    "compression_type {} does not match the compression-type incompatible bit (offset 104)", ct);
    if (h.extended_l2() && h.cluster_bits < min_extended_l2_cluster_bits)
        return fail(Errc::corrupt_metadata, "Extended L2 entries need clusters of at least {} bytes, not {}",
                    uint64_t{1} << min_extended_l2_cluster_bits, h.cluster_size());
    if (h.l1_size > max_l1_bytes / 8)
        return fail(Errc::out_of_range, "Active L1 table too large: {} entries (offset 36)", h.l1_size);
    if (h.l1_size > 0 && h.l1_table_offset % h.cluster_size() != 0)
        return fail(Errc::corrupt_metadata, "Active L1 table offset {:#x} is not cluster aligned (offset 40)",
                    h.l1_table_offset);
    if (h.refcount_table_offset % h.cluster_size() != 0)
        return fail(Errc::corrupt_metadata, "Reference count table offset {:#x} is not cluster aligned (offset 48)",
                    h.refcount_table_offset);
    if (uint64_t{h.refcount_table_clusters} * h.cluster_size() > max_refcount_table_bytes)
        return fail(Errc::out_of_range, "Reference count table too large: {} clusters (offset 56)",
                    h.refcount_table_clusters);
    if (h.nb_snapshots > 0 && h.snapshots_offset % h.cluster_size() != 0)
        return fail(Errc::corrupt_metadata, "Snapshot table offset {:#x} is not cluster aligned (offset 64)",
                    h.snapshots_offset);
    if (h.backing_file_offset != 0) {
        if (h.backing_file_size > max_backing_name)
            return fail(Errc::corrupt_metadata, "Backing file name too long: {} bytes (offset 16)",
                        h.backing_file_size);
        if (!util::range_within(h.backing_file_offset, h.backing_file_size, h.cluster_size()))
            return fail(Errc::corrupt_metadata,
                        "Backing file name at {:#x} (+{}) is not within the header cluster (offset 8)",
                        h.backing_file_offset, h.backing_file_size);
    }
    // The L1 table must be able to map the whole virtual disk.
    uint64_t l2_entries = h.cluster_size() / (h.extended_l2() ? 16 : 8);
    auto bytes_per_l1 = util::checked_mul(l2_entries, h.cluster_size());
    if (!bytes_per_l1 || h.size > max_virtual_size)
        return fail(Errc::out_of_range, "Image size too large: {} bytes (offset 24)", h.size);
    if (util::div_round_up(h.size, *bytes_per_l1) > h.l1_size)
        return fail(Errc::corrupt_metadata, "L1 table is too small: {} entries for {} bytes (offset 36)", h.l1_size,
                    h.size);
    return {};
}

} // namespace

Result<Header> parse_header(std::span<const uint8_t> bytes)
{
    util::Cursor c(bytes);
    if (c.be32() != magic || c.overrun())
        return fail(Errc::bad_magic, "Image is not in qcow2 format");
    Header h;
    h.version = c.be32();
    h.backing_file_offset = c.be64();
    h.backing_file_size = c.be32();
    h.cluster_bits = c.be32();
    h.size = c.be64();
    h.crypt_method = static_cast<CryptMethod>(c.be32());
    h.l1_size = c.be32();
    h.l1_table_offset = c.be64();
    h.refcount_table_offset = c.be64();
    h.refcount_table_clusters = c.be32();
    h.nb_snapshots = c.be32();
    h.snapshots_offset = c.be64();
    if (h.version >= 3) {
        h.incompatible_features = c.be64();
        h.compatible_features = c.be64();
        h.autoclear_features = c.be64();
        h.refcount_order = c.be32();
        h.header_length = c.be32();
        if (h.header_length > v3_header_length) {
            h.compression_type = static_cast<CompressionType>(c.u8());
        }
    }
    if (c.overrun())
        return fail(Errc::truncated, "qcow2 header is truncated ({} bytes)", bytes.size());
    TRY(validate(h));
    return h;
}

void serialize_header(const Header& h, std::span<uint8_t> out)
{
    std::fill(out.begin(), out.begin() + h.header_length, 0);
    util::store_be32(out, 0, magic);
    util::store_be32(out, 4, h.version);
    util::store_be64(out, 8, h.backing_file_offset);
    util::store_be32(out, 16, h.backing_file_size);
    util::store_be32(out, 20, h.cluster_bits);
    util::store_be64(out, 24, h.size);
    util::store_be32(out, 32, static_cast<uint32_t>(h.crypt_method));
    util::store_be32(out, 36, h.l1_size);
    util::store_be64(out, 40, h.l1_table_offset);
    util::store_be64(out, 48, h.refcount_table_offset);
    util::store_be32(out, 56, h.refcount_table_clusters);
    util::store_be32(out, 60, h.nb_snapshots);
    util::store_be64(out, 64, h.snapshots_offset);
    if (h.version < 3)
        return;
    util::store_be64(out, 72, h.incompatible_features);
    util::store_be64(out, 80, h.compatible_features);
    util::store_be64(out, 88, h.autoclear_features);
    util::store_be32(out, 96, h.refcount_order);
    util::store_be32(out, 100, h.header_length);
    if (h.header_length > v3_header_length)
        out[104] = static_cast<uint8_t>(h.compression_type);
}

} // namespace imgmend::qcow2
