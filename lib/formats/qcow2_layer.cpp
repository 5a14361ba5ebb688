#include "formats/qcow2_layer.hpp"

#include "refcount/refcount_reader.hpp"
#include "util/checked.hpp"

#include <algorithm>

namespace imgmend::formats {

Result<bool> detect_metadata_preallocation(qcow2::Image& image)
{
    io::BlockDevice& file = image.file();
    uint64_t cluster_size = image.geometry().cluster_size;
    uint64_t real_clusters = file.allocated_bytes() / cluster_size;
    uint64_t threshold = std::max(real_clusters * 10 / 9, real_clusters + 2);
    uint64_t clusters = util::div_round_up(file.size(), cluster_size);
    refcount::RefcountReader reader(file, image.geometry(), TRY(refcount::read_refcount_table(file, image.header())));
    uint64_t count = 0;
    // Ends at the threshold or after one pass over the file's clusters.
    for (uint64_t i = 0; i < clusters; ++i) {
        if (TRY(reader.refcount(i)) > 0 && ++count >= threshold)
            return true;
    }
    return false;
}

bool Qcow2Layer::metadata_preallocated()
{
    if (!metadata_preallocated_) {
        auto detected = detect_metadata_preallocation(*image_);
        // qemu treats a failed detection as "not preallocated".
        metadata_preallocated_ = detected.has_value() && *detected;
    }
    return *metadata_preallocated_;
}

Result<LayerStatus> Qcow2Layer::status(uint64_t offset, uint64_t max_length)
{
    LayerStatus s;
    uint64_t virtual_size = image_->geometry().virtual_size;
    if (offset >= virtual_size) {
        // The sector-rounding tail of an odd-sized image.
        s.length = max_length;
        return s;
    }
    qcow2::RangeStatus r = TRY(image_->range_status(offset, std::min(max_length, virtual_size - offset)));
    s.length = r.length;
    s.data = r.kind == qcow2::RangeKind::data || r.kind == qcow2::RangeKind::compressed;
    s.zero = r.kind == qcow2::RangeKind::zero;
    s.compressed = r.kind == qcow2::RangeKind::compressed;
    bool encrypted = image_->header().crypt_method != qcow2::CryptMethod::none;
    if (r.host_offset && !encrypted) {
        s.offset = r.host_offset;
        s.file = &image_->data_file();
    }
    if (s.data && s.offset && metadata_preallocated()) {
        io::BlockDevice& host = *s.file;
        if (*s.offset >= host.size()) {
            s.zero = true;
        } else {
            io::AllocationRun run = TRY(host.allocation_at(*s.offset));
            if (run.state == io::Allocation::hole && *s.offset + run.length >= host.size())
                s.zero = true; // a hole up to the end of the file: all of it reads as zeros
            else {
                s.length = std::min(s.length, run.length);
                s.zero = run.state == io::Allocation::hole;
            }
        }
    }
    return s;
}

Result<void> Qcow2Layer::read(uint64_t offset, const LayerStatus& status, std::span<uint8_t> out)
{
    qcow2::RangeStatus r;
    r.length = status.length;
    r.kind = status.compressed ? qcow2::RangeKind::compressed
                               : (status.data ? qcow2::RangeKind::data : qcow2::RangeKind::zero);
    r.host_offset = status.offset;
    if (r.kind == qcow2::RangeKind::data && !r.host_offset)
        return util::fail(util::Errc::unsupported_feature, "data at guest {:#x} has no host offset", offset);
    return image_->read_allocated(offset, r, out);
}

} // namespace imgmend::formats
