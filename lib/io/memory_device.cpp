#include "io/memory_device.hpp"

#include "util/checked.hpp"

#include <algorithm>

namespace imgmend::io {

using util::Errc;
using util::fail;

Result<void> MemoryDevice::read(uint64_t offset, std::span<uint8_t> out)
{
    ++reads_;
    if (!util::range_within(offset, out.size(), bytes_.size()))
        return util::Unexpected{util::Error{
            Errc::truncated, fmt::format("read of {} bytes at {:#x} is beyond the end of '{}'", out.size(), offset, name_),
            offset}};
    std::copy_n(bytes_.begin() + static_cast<ptrdiff_t>(offset), out.size(), out.begin());
    return {};
}

Result<void> MemoryDevice::write(uint64_t offset, std::span<const uint8_t> in)
{
    size_t attempt = attempts_++;
    if (fail_at_ && attempt == *fail_at_)
        return fail(Errc::io, "simulated write failure at write {}", attempt);
    if (crashed())
        return fail(Errc::io, "simulated crash after write {}", *crash_after_);
    auto end = util::checked_add(offset, in.size());
    if (!end || (size_limit_ && *end > *size_limit_))
        return fail(Errc::no_space, "write at {:#x} beyond the device size limit", offset);
    if (*end > bytes_.size()) {
        if (!resizable_)
            return fail(Errc::no_space, "write at {:#x} beyond the end of a fixed-size device", offset);
        bytes_.resize(*end, 0);
    }
    std::copy(in.begin(), in.end(), bytes_.begin() + static_cast<ptrdiff_t>(offset));
    writes_.push_back({offset, in.size()});
    return {};
}

Result<void> MemoryDevice::flush()
{
    if (crashed())
        return fail(Errc::io, "simulated crash after write {}", *crash_after_);
    flushed_ = bytes_;
    return {};
}

Result<void> MemoryDevice::resize(uint64_t new_size)
{
    if (!resizable_)
        return fail(Errc::no_space, "'{}' cannot be resized", name_);
    if (size_limit_ && new_size > *size_limit_)
        return fail(Errc::no_space, "'{}' cannot grow to {} bytes", name_, new_size);
    if (crashed())
        return fail(Errc::io, "simulated crash after write {}", *crash_after_);
    bytes_.resize(new_size, 0);
    return {};
}

Result<void> MemoryDevice::discard(uint64_t offset, uint64_t length)
{
    if (offset >= bytes_.size())
        return {};
    uint64_t n = std::min<uint64_t>(length, bytes_.size() - offset);
    std::vector<uint8_t> zeros(n, 0);
    return write(offset, zeros);
}

Result<AllocationRun> MemoryDevice::allocation_at(uint64_t offset)
{
    if (offset >= bytes_.size())
        return AllocationRun{Allocation::hole, 0};
    return AllocationRun{Allocation::data, bytes_.size() - offset};
}

} // namespace imgmend::io
