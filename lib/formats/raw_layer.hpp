// A raw image: guest offset = host offset; data and holes come from the
// host file's allocation (SEEK_DATA/SEEK_HOLE).
#pragma once

#include "formats/layer.hpp"

namespace imgmend::formats {

class RawLayer final : public Layer {
public:
    explicit RawLayer(io::DevicePtr file) : file_(std::move(file)) {}
    std::string_view format() const override { return "raw"; }
    const std::string& filename() const override { return file_->name(); }
    uint64_t size() const override { return sector_rounded(file_->size()); }
    bool supports_backing() const override { return false; }
    Result<LayerStatus> status(uint64_t offset, uint64_t max_length) override;
    Result<void> read(uint64_t offset, const LayerStatus& status, std::span<uint8_t> out) override;

private:
    io::DevicePtr file_;
};

} // namespace imgmend::formats
