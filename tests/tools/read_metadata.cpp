// Benchmark floor for imgmend-check: reads every metadata table of an image
// once (L1, each active and snapshot L2 table, the refcount table and
// blocks) and does nothing else. bench/check.sh prints its time beside the
// checkers' so "within 2x of merely reading the metadata" can be judged.
#include "qcow2/image.hpp"
#include "qcow2/snapshot.hpp"
#include "io/file_device.hpp"
#include "refcount/refcount_reader.hpp"
#include "util/cursor.hpp"

#include <fmt/format.h>
#include <set>

using namespace imgmend;

int main(int argc, char** argv)
{
    if (argc != 2) {
        fmt::print(stderr, "usage: read_metadata IMAGE\n");
        return 2;
    }
    auto dev = io::FileDevice::open(argv[1], io::Access::read_only, io::LockMode::none);
    if (!dev)
        return fmt::print(stderr, "{}\n", dev.error().message), 1;
    auto image = qcow2::Image::open(*dev);
    if (!image)
        return fmt::print(stderr, "{}\n", image.error().message), 1;
    const auto& h = (*image)->header();
    const uint64_t cs = h.cluster_size();
    std::set<uint64_t> l2_tables;
    auto add_l1 = [&](uint64_t offset, uint64_t entries) {
        std::vector<uint8_t> l1(entries * 8);
        if (!(*dev)->read_zero_padded(offset, l1))
            return;
        for (uint64_t i = 0; i < entries; ++i)
            if (uint64_t l2 = util::load_be64(l1, i * 8) & qcow2::offset_mask)
                l2_tables.insert(l2);
    };
    add_l1(h.l1_table_offset, h.l1_size);
    if (auto snaps = qcow2::read_snapshot_table(**dev, h))
        for (const auto& s : snaps->entries)
            add_l1(s.l1_table_offset, s.l1_size);
    std::vector<uint8_t> buffer(cs);
    uint64_t bytes = 0;
    for (uint64_t l2 : l2_tables)
        if ((*dev)->read_zero_padded(l2, buffer))
            bytes += cs;
    auto table = refcount::read_refcount_table(**dev, h);
    if (table)
        for (uint64_t e : *table)
            if (uint64_t b = e & refcount::reftable_offset_mask; b && (*dev)->read_zero_padded(b, buffer))
                bytes += cs;
    fmt::print("{} bytes of tables read\n", bytes);
    return 0;
}
