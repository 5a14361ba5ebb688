#include "check/cluster_counts.hpp"

namespace imgmend::check {

namespace {
uint64_t words_for(uint32_t order, uint64_t clusters)
{
    if (order >= 3)
        return 0;
    uint64_t bits = clusters << order;
    return bits / 64 + (bits % 64 != 0);
}
} // namespace

ClusterCounts::ClusterCounts(uint32_t refcount_order, uint64_t clusters)
    : order_(refcount_order), clusters_(clusters),
      max_(refcount_order == 6 ? ~uint64_t{0} : (uint64_t{1} << (1u << refcount_order)) - 1),
      words_(words_for(refcount_order, clusters), 0), bytes_(refcount_order >= 3 ? clusters : 0, 0)
{
}

void ClusterCounts::set(uint64_t cluster, uint64_t value)
{
    if (order_ >= 3) {
        value &= max_;
        if (order_ == 3 || value < escape) {
            if (order_ > 3 && bytes_[cluster] == escape)
                wide_.erase(cluster);
            bytes_[cluster] = static_cast<uint8_t>(value);
        } else {
            bytes_[cluster] = escape;
            wide_[cluster] = value;
        }
        return;
    }
    uint64_t bit = cluster << order_;
    uint64_t& w = words_[bit / 64];
    w = (w & ~(max_ << (bit % 64))) | ((value & max_) << (bit % 64));
}

bool ClusterCounts::increment_slow(uint64_t cluster)
{
    uint64_t v = get(cluster);
    if (v == max_)
        return false;
    set(cluster, v + 1);
    return true;
}

void ClusterCounts::grow(uint64_t clusters)
{
    if (clusters <= clusters_)
        return;
    clusters_ = clusters;
    if (order_ >= 3)
        bytes_.resize(clusters, 0);
    else
        words_.resize(words_for(order_, clusters), 0);
}

} // namespace imgmend::check
