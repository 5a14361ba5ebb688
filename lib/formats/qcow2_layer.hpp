// A qcow2 image as a chain layer. Like qemu, when the image looks
// metadata-preallocated (more clusters referenced than the host stores),
// data clusters that are holes in the host file are reported as zero too.
#pragma once

#include "formats/layer.hpp"
#include "qcow2/image.hpp"

namespace imgmend::formats {

class Qcow2Layer final : public Layer {
public:
    explicit Qcow2Layer(std::unique_ptr<qcow2::Image> image) : image_(std::move(image)) {}
    std::string_view format() const override { return "qcow2"; }
    const std::string& filename() const override { return image_->file().name(); }
    uint64_t size() const override { return sector_rounded(image_->geometry().virtual_size); }
    bool supports_backing() const override { return true; }
    std::optional<std::string> backing_name() const override { return image_->backing_name(); }
    std::optional<std::string> backing_format() const override { return image_->extensions().backing_format; }
    Result<LayerStatus> status(uint64_t offset, uint64_t max_length) override;
    Result<void> read(uint64_t offset, const LayerStatus& status, std::span<uint8_t> out) override;

    qcow2::Image& image() { return *image_; }

private:
    // Is the image metadata-preallocated? Decided once, as qemu does.
    bool metadata_preallocated();

    std::unique_ptr<qcow2::Image> image_;
    std::optional<bool> metadata_preallocated_;
};

// qemu's heuristic: count clusters with a non-zero refcount up to the file's
// length; preallocated when the count reaches
// max(real * 10 / 9, real + 2), real = host bytes stored / cluster size.
Result<bool> detect_metadata_preallocation(qcow2::Image& image);

} // namespace imgmend::formats
