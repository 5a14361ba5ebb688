// Reference counts per host cluster, computed in memory, stored packed at
// the image's own refcount width (1 to 64 bits) so memory stays compact:
// a 1 TiB image with 64 KiB clusters and 16-bit refcounts needs 32 MiB.
#pragma once

#include <cstdint>
#include <vector>

namespace imgmend::check {

class ClusterCounts {
public:
    ClusterCounts(uint32_t refcount_order, uint64_t clusters);

    uint64_t size() const { return clusters_; }
    uint64_t get(uint64_t cluster) const
    {
        if (order_ == 6)
            return words_[cluster];
        uint64_t bit = cluster << order_;
        return (words_[bit / 64] >> (bit % 64)) & max_;
    }
    void set(uint64_t cluster, uint64_t value)
    {
        if (order_ == 6) {
            words_[cluster] = value;
            return;
        }
        uint64_t bit = cluster << order_;
        uint64_t& w = words_[bit / 64];
        w = (w & ~(max_ << (bit % 64))) | ((value & max_) << (bit % 64));
    }
    // Adds one reference; returns false (and changes nothing) at the width's maximum.
    bool increment(uint64_t cluster)
    {
        uint64_t v = get(cluster);
        if (v == max_)
            return false;
        set(cluster, v + 1);
        return true;
    }
    // Grows to hold at least `clusters` entries (new ones zero).
    void grow(uint64_t clusters);
    uint64_t max_value() const { return max_; }

private:
    uint32_t order_;
    uint64_t clusters_;
    uint64_t max_;
    std::vector<uint64_t> words_;
};

} // namespace imgmend::check
