// What qemu-img check stays silent about, reported as warnings that do not
// change the verdict.
#include "check/checker.hpp"

#include "qcow2/compressed.hpp"
#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"

#include <fmt/format.h>

namespace imgmend::check {

void Checker::add_warnings()
{
    const qcow2::Header& h = image_.header();
    auto warn = [&](FindingKind kind, Repair repair, std::string message) {
        report_.add(Finding{kind, Severity::warning, repair, std::move(message)});
    };
    if (h.incompatible_features & qcow2::incompat_dirty)
        warn(FindingKind::dirty_bit, Repair::all,
             h.compatible_features & qcow2::compat_lazy_refcounts
                 ? "image is dirty: lazy refcounts were not written back (the VM did not shut down cleanly)"
                 : "image is dirty but lazy refcounts are off: the dirty bit should not be set");
    if (h.incompatible_features & qcow2::incompat_corrupt)
        warn(FindingKind::corrupt_bit, Repair::all,
             "image is marked corrupt: qemu found an inconsistency and will only open it read-only");
    if (uint64_t unknown = h.autoclear_features & ~qcow2::autoclear_known)
        warn(FindingKind::unknown_autoclear_bits, Repair::none,
             fmt::format("unknown autoclear feature bits {:#x} (qemu clears them when it writes)", unknown));

    // Non-zero refcounts for clusters past the end of the file.
    const uint64_t cs = geometry_.cluster_size;
    const uint64_t per_block = geometry_.refblock_entries;
    uint64_t beyond = 0;
    std::vector<uint8_t> block(cs);
    for (uint64_t t = counts_.size() / per_block; t < reftable_.size(); ++t) {
        uint64_t offset = reftable_[t] & refcount::reftable_offset_mask;
        if (offset == 0 || offset % cs != 0 || offset >= file_size_)
            continue;
        if (!dev_.read_zero_padded(offset, block))
            continue;
        for (uint64_t k = 0; k < per_block; ++k)
            if (t * per_block + k >= counts_.size() && refcount::get_entry(block, geometry_.refcount_order, k) != 0)
                ++beyond;
    }
    if (beyond > 0) {
        Finding f{FindingKind::refcount_beyond_end, Severity::warning, Repair::none,
                  fmt::format("{} clusters beyond the end of the file have non-zero refcounts", beyond)};
        f.host_offset = file_size_;
        report_.add(std::move(f));
    }
}

void Checker::verify_compressed_clusters()
{
    const qcow2::Geometry& g = geometry_;
    std::vector<uint8_t> packed;
    std::vector<uint8_t> plain(g.cluster_size);
    std::vector<Finding> found;
    CheckReport scratch;
    auto verify = [&](uint64_t offset, uint64_t size, const Role& role) {
        if (role.kind != RoleKind::compressed_data || size > 2 * g.cluster_size + 512)
            return;
        packed.resize(size);
        bool ok = dev_.read_zero_padded(offset, packed).has_value() &&
                  qcow2::decompress_cluster(image_.header().compression_type, packed, plain).has_value();
        if (ok)
            return;
        Finding f{FindingKind::compressed_undecodable, Severity::warning, Repair::none,
                  fmt::format("compressed cluster at host offset {:#x} does not decompress", offset)};
        f.host_offset = offset;
        f.l1_index = role.l1_index;
        f.l2_index = role.l2_index;
        f.guest_offset = role.guest_offset;
        f.snapshot = role.snapshot;
        f.owner = role.describe();
        found.push_back(std::move(f));
    };
    WalkInputs inputs;
    inputs.snapshots = snapshots_ ? &*snapshots_ : nullptr;
    ReferenceWalker walker(image_, inputs, Reporting::silent, scratch, verify);
    (void)walker.walk();
    for (auto& f : found)
        report_.add(std::move(f));
}

} // namespace imgmend::check
