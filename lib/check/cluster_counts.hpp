// Reference counts per host cluster, computed in memory. Narrow widths (1,
// 2 and 4 bits) are stored packed at the image's own width; wider ones in
// one byte per cluster, with the rare count of 255 or more kept aside. So
// memory stays compact — a 1 TiB image with 64 KiB clusters needs 16 MiB —
// and never wider than the image's refcounts.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace imgmend::check {

class ClusterCounts {
public:
    ClusterCounts(uint32_t refcount_order, uint64_t clusters);

    uint64_t size() const { return clusters_; }
    uint64_t get(uint64_t cluster) const
    {
        if (order_ >= 3) {
            uint8_t b = bytes_[cluster];
            return b == escape && order_ > 3 ? wide_.at(cluster) : b;
        }
        uint64_t bit = cluster << order_;
        return (words_[bit / 64] >> (bit % 64)) & max_;
    }
    void set(uint64_t cluster, uint64_t value);
    // Adds one reference; returns false (and changes nothing) at the width's maximum.
    bool increment(uint64_t cluster)
    {
        if (order_ >= 3 && bytes_[cluster] < escape - 1) {
            ++bytes_[cluster];
            return true;
        }
        return increment_slow(cluster);
    }
    // Grows to hold at least `clusters` entries (new ones zero).
    void grow(uint64_t clusters);
    uint64_t max_value() const { return max_; }

    // One byte per cluster (refcount widths of 8 bits and more): the count,
    // or `escape` when it is 255 or more and kept aside. Null otherwise.
    const uint8_t* bytes() const { return order_ >= 3 ? bytes_.data() : nullptr; }
    uint8_t* mutable_bytes() { return order_ >= 3 ? bytes_.data() : nullptr; }
    static constexpr uint8_t escape = 255;

private:
    bool increment_slow(uint64_t cluster);

    uint32_t order_;
    uint64_t clusters_;
    uint64_t max_;
    std::vector<uint64_t> words_;               // widths below 8 bits, packed
    std::vector<uint8_t> bytes_;                // widths of 8 bits and more
    std::unordered_map<uint64_t, uint64_t> wide_; // counts of 255 and more (widths above 8 bits)
};

} // namespace imgmend::check
