// A qcow2 image opened read-only: validated header and extensions, the
// active L1 table, a small L2 cache, and per-range block status and reads.
#pragma once

#include "io/block_device.hpp"
#include "qcow2/extensions.hpp"
#include "qcow2/geometry.hpp"
#include "qcow2/l2_entry.hpp"

#include <optional>
#include <string>
#include <vector>

namespace imgmend::qcow2 {

// What a range of guest bytes is in this image alone.
enum class RangeKind {
    unallocated, // defer to the backing file
    zero,        // reads as zeros
    data,        // data at host_offset
    compressed,  // compressed data (no single host offset)
};

// One L2 table as read from disk; entries are decoded on access, so loading
// a table costs one read and no conversion pass.
class L2Table {
public:
    L2Table() = default;
    L2Table(const Geometry& g, std::vector<uint8_t> bytes) : entry_bytes_(g.l2_entry_bytes), bytes_(std::move(bytes)) {}
    uint64_t raw(uint64_t index) const;
    L2Entry operator[](uint64_t index) const;
    uint64_t size() const { return bytes_.size() / entry_bytes_; }

private:
    uint32_t entry_bytes_ = 8;
    std::vector<uint8_t> bytes_;
};

struct RangeStatus {
    uint64_t length = 0;
    RangeKind kind = RangeKind::unallocated;
    std::optional<uint64_t> host_offset; // normal and preallocated-zero clusters
};

class Image {
public:
    // Reads and validates the header, extensions, backing name and L1 table.
    static Result<std::unique_ptr<Image>> open(io::DevicePtr file);

    const Header& header() const { return header_; }
    const Extensions& extensions() const { return extensions_; }
    const Geometry& geometry() const { return geometry_; }
    const std::optional<std::string>& backing_name() const { return backing_name_; }
    io::BlockDevice& file() const { return *file_; }
    const io::DevicePtr& file_ptr() const { return file_; }
    // Where guest data clusters live: the image file or an external data file.
    io::BlockDevice& data_file() const { return data_file_ ? *data_file_ : *file_; }
    void set_data_file(io::DevicePtr device) { data_file_ = std::move(device); }
    bool needs_data_file() const { return header_.has_data_file(); }
    bool has_data_file() const { return data_file_ != nullptr; }

    // Active L1 entries as stored (beyond the readable part of the file they
    // read as zero, as qemu reads a short file).
    uint64_t l1_entry(uint64_t index) const { return index < l1_.size() ? l1_[index] : 0; }
    // One L2 table (cached); index by L2 index.
    Result<const L2Table*> l2_table(uint64_t l2_offset);

    // Status of the run starting at guest `offset`, at most `max_length`
    // bytes, all of one kind (and contiguous on the host for data).
    Result<RangeStatus> range_status(uint64_t offset, uint64_t max_length);
    // Reads guest data the image itself holds (data or compressed ranges
    // as reported by range_status); other ranges are the caller's job.
    Result<void> read_allocated(uint64_t offset, const RangeStatus& status, std::span<uint8_t> out);

private:
    Image() = default;
    Result<void> load_l1();
    Result<RangeStatus> status_in_l2(uint64_t offset, uint64_t max_length, uint64_t l2_offset);

    io::DevicePtr file_;
    io::DevicePtr data_file_;
    Header header_;
    Extensions extensions_;
    Geometry geometry_{};
    std::optional<std::string> backing_name_;
    std::vector<uint64_t> l1_;

    struct CachedL2 {
        uint64_t offset = 0;
        L2Table table;
    };
    std::vector<CachedL2> l2_cache_;
    size_t l2_cache_next_ = 0;

    uint64_t cached_compressed_raw_ = 0;
    std::vector<uint8_t> cached_compressed_;
};

// Decodes an L2 table from its on-disk bytes.
std::vector<L2Entry> decode_l2_table(const Geometry& g, std::span<const uint8_t> bytes);

} // namespace imgmend::qcow2
