// A value for some of an image's host clusters: the on-disk refcounts that
// disagree with the count, the refcounts a repair plans. A bit per cluster
// says which have one (a miss, the common answer, costs a bit test); the
// values sit in a hash map while they are few, and past one cluster in 32
// packed at the image's refcount width (ClusterCounts), so a damaged 1 TiB
// image with 16 M disagreeing refcounts costs ~18 MiB, not ~700.
#pragma once

#include "check/cluster_bits.hpp"
#include "check/cluster_counts.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_map>
#include <vector>

namespace imgmend::check {

class ClusterValues {
public:
    static constexpr uint64_t none = std::numeric_limits<uint64_t>::max();

    explicit ClusterValues(uint32_t refcount_order = 4, uint64_t clusters = 0);

    std::optional<uint64_t> find(uint64_t cluster) const;
    bool contains(uint64_t cluster) const { return find(cluster).has_value(); }
    void set(uint64_t cluster, uint64_t value);
    uint64_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // The smallest cluster at or after `from` (and before `limit`) that has a
    // value; `none` if none.
    uint64_t next(uint64_t from, uint64_t limit = none) const;
    // f(cluster, value) for each, in increasing cluster order.
    template <typename F>
    void for_each(F&& f) const
    {
        for (uint64_t c = next(0); c != none; c = c == none - 1 ? none : next(c + 1))
            f(c, *find(c));
    }

private:
    void go_dense();
    const std::vector<uint64_t>& sorted_outside() const;

    uint32_t order_;
    uint64_t clusters_;
    uint64_t size_ = 0;
    bool dense_ = false;
    // Every value while sparse; once dense, those the packed values cannot
    // hold (values wider than the width). Clusters past `clusters_` always.
    std::unordered_map<uint64_t, uint64_t> sparse_;
    ClusterBits present_;        // clusters below `clusters_` that have a value
    ClusterCounts values_{0, 0}; // once dense
    uint64_t outside_ = 0;       // keys of sparse_ at or past `clusters_`
    mutable std::vector<uint64_t> sorted_; // those keys, sorted, for next()
    mutable bool sorted_valid_ = true;
};

} // namespace imgmend::check
