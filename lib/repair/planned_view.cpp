#include "repair/planned_view.hpp"

#include "util/checked.hpp"

#include <algorithm>

namespace imgmend::repair {

using util::Errc;
using util::fail;

PlannedView::PlannedView(io::BlockDevice& base, const io::Plan& plan)
    : base_(base), plan_(plan), size_(plan.final_size(base.size()))
{
}

Result<void> PlannedView::read(uint64_t offset, std::span<uint8_t> out)
{
    if (!util::range_within(offset, out.size(), size_))
        return fail(Errc::truncated, "read of {} bytes at {:#x} beyond the end of '{}' (as planned)", out.size(),
                    offset, name());
    TRY(base_.read_zero_padded(offset, out));
    const uint64_t end = offset + out.size();
    // In plan order, so a later step wins where two overlap.
    for (const io::Step& s : plan_.steps()) {
        if (s.kind == io::Step::Kind::flush)
            continue;
        uint64_t length = s.kind == io::Step::Kind::write ? s.data.size() : s.length;
        uint64_t from = std::max(offset, s.offset);
        uint64_t to = std::min(end, s.offset + length);
        if (from >= to)
            continue;
        auto dst = out.begin() + static_cast<ptrdiff_t>(from - offset);
        if (s.kind == io::Step::Kind::write) {
            auto src = s.data.begin() + static_cast<ptrdiff_t>(from - s.offset);
            std::copy(src, src + static_cast<ptrdiff_t>(to - from), dst);
        } else {
            std::fill(dst, dst + static_cast<ptrdiff_t>(to - from), 0);
        }
    }
    return {};
}

Result<void> PlannedView::write(uint64_t offset, std::span<const uint8_t>)
{
    return fail(Errc::invalid_argument, "write at {:#x} to the planned view of '{}'", offset, name());
}

Result<void> PlannedView::resize(uint64_t)
{
    return fail(Errc::invalid_argument, "resize of the planned view of '{}'", name());
}

Result<void> PlannedView::discard(uint64_t offset, uint64_t)
{
    return fail(Errc::invalid_argument, "discard at {:#x} in the planned view of '{}'", offset, name());
}

Result<io::AllocationRun> PlannedView::allocation_at(uint64_t offset)
{
    if (offset >= size_)
        return io::AllocationRun{io::Allocation::hole, 0};
    io::AllocationRun run{io::Allocation::data, size_ - offset};
    if (offset < base_.size())
        run = TRY(base_.allocation_at(offset));
    // A planned step inside the run: data from its start (as written; a
    // discard is reported as data too, which is only ever more reading).
    for (const io::Step& s : plan_.steps()) {
        if (s.kind == io::Step::Kind::flush)
            continue;
        uint64_t length = s.kind == io::Step::Kind::write ? s.data.size() : s.length;
        if (s.offset + length <= offset || s.offset >= offset + run.length)
            continue;
        if (s.offset <= offset)
            return io::AllocationRun{io::Allocation::data, std::min(run.length, s.offset + length - offset)};
        run.length = s.offset - offset;
    }
    return run;
}

} // namespace imgmend::repair
