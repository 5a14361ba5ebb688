#include "io/read_ahead.hpp"

#include <algorithm>

namespace imgmend::io {

ReadAhead::ReadAhead(BlockDevice& dev, std::vector<uint64_t> offsets, size_t length, size_t depth)
    : dev_(dev), offsets_(std::move(offsets)), slots_(std::max<size_t>(1, std::min(depth, offsets_.size())))
{
    for (Slot& s : slots_)
        s.bytes.resize(length);
    // Nothing to overlap with for a single region: read it on demand.
    if (offsets_.size() > 1)
        worker_ = std::thread([this] { produce(); });
}

ReadAhead::~ReadAhead()
{
    if (!worker_.joinable())
        return;
    // Release everything: the worker stops at its next region.
    stop_.store(true);
    released_.store(offsets_.size());
    released_.notify_one();
    worker_.join();
}

void ReadAhead::produce()
{
    for (size_t i = 0; i < offsets_.size(); ++i) {
        // Slot i % depth is free once region i - depth has been released.
        for (size_t r = released_.load(std::memory_order_acquire); i >= r + slots_.size();
             r = released_.load(std::memory_order_acquire))
            released_.wait(r);
        if (stop_.load())
            return;
        Slot& slot = slots_[i % slots_.size()];
        slot.status = dev_.read_zero_padded(offsets_[i], slot.bytes);
        produced_.store(i + 1, std::memory_order_release);
        produced_.notify_one();
    }
}

Result<std::span<const uint8_t>> ReadAhead::next()
{
    if (handed_ >= offsets_.size())
        return util::fail(util::Errc::invalid_argument, "read ahead past its last region");
    size_t i = handed_++;
    Slot& slot = slots_[i % slots_.size()];
    if (!worker_.joinable()) {
        slot.status = dev_.read_zero_padded(offsets_[i], slot.bytes);
    } else {
        // Every region before this one is released.
        released_.store(i, std::memory_order_release);
        released_.notify_one();
        for (size_t p = produced_.load(std::memory_order_acquire); p <= i; p = produced_.load(std::memory_order_acquire))
            produced_.wait(p);
    }
    if (!slot.status)
        return util::Unexpected{slot.status.error()};
    return std::span<const uint8_t>(slot.bytes);
}

} // namespace imgmend::io
