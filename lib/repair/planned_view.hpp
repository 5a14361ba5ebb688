// The image as it will be once a plan has run, without writing anything:
// reads see the plan's writes (and discards as zeros) over the real file.
// Repair plans a step that changes what the checker would find (a rewritten
// snapshot table) this way, then checks the planned image and plans the rest
// of the repair on top of it, so the whole repair is still one plan for the
// dry run and the undo file.
#pragma once

#include "io/write_plan.hpp"

namespace imgmend::repair {

using util::Result;

class PlannedView final : public io::BlockDevice {
public:
    // Both must outlive the view.
    PlannedView(io::BlockDevice& base, const io::Plan& plan);

    const std::string& name() const override { return base_.name(); }
    uint64_t size() const override { return size_; }
    Result<void> read(uint64_t offset, std::span<uint8_t> out) override;
    // A view is read-only: planning never writes.
    Result<void> write(uint64_t offset, std::span<const uint8_t> in) override;
    Result<void> flush() override { return {}; }
    bool can_resize() const override { return base_.can_resize(); }
    Result<void> resize(uint64_t new_size) override;
    Result<void> discard(uint64_t offset, uint64_t length) override;
    Result<io::AllocationRun> allocation_at(uint64_t offset) override;
    uint64_t allocated_bytes() const override { return base_.allocated_bytes(); }
    void will_need(uint64_t offset, uint64_t length) override { base_.will_need(offset, length); }

private:
    io::BlockDevice& base_;
    const io::Plan& plan_;
    uint64_t size_;
};

} // namespace imgmend::repair
