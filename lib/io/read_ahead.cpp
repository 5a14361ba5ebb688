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
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable())
        worker_.join();
}

void ReadAhead::produce()
{
    for (size_t i = 0; i < offsets_.size(); ++i) {
        {
            std::unique_lock lock(mutex_);
            // Slot i % depth is free once region i - depth has been released.
            changed_.wait(lock, [&] { return stop_ || i < consumed_ + slots_.size(); });
            if (stop_)
                return;
        }
        Slot& slot = slots_[i % slots_.size()];
        slot.status = dev_.read_zero_padded(offsets_[i], slot.bytes);
        {
            std::lock_guard lock(mutex_);
            produced_ = i + 1;
        }
        changed_.notify_all();
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
        std::unique_lock lock(mutex_);
        consumed_ = i; // every region before this one is released
        changed_.notify_all();
        changed_.wait(lock, [&] { return produced_ > i; });
    }
    if (!slot.status)
        return util::Unexpected{slot.status.error()};
    return std::span<const uint8_t>(slot.bytes);
}

} // namespace imgmend::io
