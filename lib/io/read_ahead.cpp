#include "io/read_ahead.hpp"

#include <algorithm>

namespace imgmend::io {

namespace {
// A thread pays off over many regions only: starting it and handing regions
// over costs more than a few reads.
constexpr size_t min_regions_for_thread = 64;

// Buffers ahead: enough to keep both threads busy and to hand slots back in
// batches (each hand-back may wake the worker: a system call), few enough
// to stay small.
size_t depth_for(size_t length, size_t regions)
{
    if (regions < min_regions_for_thread)
        return 1; // read on demand, one at a time
    constexpr size_t budget = 1u << 20;
    size_t depth = std::clamp<size_t>(budget / std::max<size_t>(length, 1), 2, 16);
    return std::max<size_t>(1, std::min(depth, regions));
}
} // namespace

ReadAhead::ReadAhead(BlockDevice& dev, std::vector<uint64_t> offsets, size_t length)
    : dev_(dev), offsets_(std::move(offsets)), length_(length), slots_(depth_for(length, offsets_.size())),
      release_batch_(std::max<size_t>(1, slots_.size() / 2))
{
    // Not zero-filled: every read fills its slot whole.
    for (Slot& s : slots_)
        s.bytes = std::make_unique_for_overwrite<uint8_t[]>(length);
    if (offsets_.size() >= min_regions_for_thread)
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
        slot.status = dev_.read_zero_padded(offsets_[i], {slot.bytes.get(), length_});
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
        slot.status = dev_.read_zero_padded(offsets_[i], {slot.bytes.get(), length_});
    } else {
        // Every region before this one is released; say so in batches.
        if (i % release_batch_ == 0) {
            released_.store(i, std::memory_order_release);
            released_.notify_one();
        }
        for (size_t p = produced_.load(std::memory_order_acquire); p <= i; p = produced_.load(std::memory_order_acquire))
            produced_.wait(p);
    }
    if (!slot.status)
        return util::Unexpected{slot.status.error()};
    return std::span<const uint8_t>(slot.bytes.get(), length_);
}

} // namespace imgmend::io
