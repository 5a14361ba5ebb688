#include "check/cluster_counts.hpp"

namespace imgmend::check {

namespace {
uint64_t words_for(uint32_t order, uint64_t clusters)
{
    uint64_t bits = clusters << order;
    return bits / 64 + (bits % 64 != 0);
}
} // namespace

ClusterCounts::ClusterCounts(uint32_t refcount_order, uint64_t clusters)
    : order_(refcount_order), clusters_(clusters),
      max_(refcount_order == 6 ? ~uint64_t{0} : (uint64_t{1} << (1u << refcount_order)) - 1),
      words_(words_for(refcount_order, clusters), 0)
{
}

void ClusterCounts::grow(uint64_t clusters)
{
    if (clusters <= clusters_)
        return;
    clusters_ = clusters;
    words_.resize(words_for(order_, clusters), 0);
}

} // namespace imgmend::check
