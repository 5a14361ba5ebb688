#include "check/cluster_values.hpp"

#include <algorithm>

namespace imgmend::check {

ClusterValues::ClusterValues(uint32_t refcount_order, uint64_t clusters)
    : order_(refcount_order), clusters_(clusters)
{
}

std::optional<uint64_t> ClusterValues::find(uint64_t cluster) const
{
    if (dense_ && cluster < clusters_ && present_.test(cluster))
        return values_.get(cluster);
    if (sparse_.empty())
        return std::nullopt;
    auto it = sparse_.find(cluster);
    if (it == sparse_.end())
        return std::nullopt;
    return it->second;
}

void ClusterValues::set(uint64_t cluster, uint64_t value)
{
    if (dense_ && cluster < clusters_ && value <= values_.max_value()) {
        if (!present_.test(cluster)) {
            if (sparse_.erase(cluster))
                sorted_valid_ = false;
            else
                ++size_;
            present_.set(cluster);
        }
        values_.set(cluster, value);
        return;
    }
    if (dense_ && cluster < clusters_ && present_.test(cluster)) {
        present_.reset(cluster); // too wide for the packed values
        --size_;
    }
    auto [it, added] = sparse_.insert_or_assign(cluster, value);
    if (added) {
        ++size_;
        sorted_valid_ = false;
    }
    if (!dense_ && sparse_.size() > std::max<uint64_t>(1024, clusters_ / 32))
        go_dense();
}

void ClusterValues::go_dense()
{
    dense_ = true;
    present_ = ClusterBits(clusters_);
    values_ = ClusterCounts(order_, clusters_);
    for (auto it = sparse_.begin(); it != sparse_.end();) {
        if (it->first < clusters_ && it->second <= values_.max_value()) {
            present_.set(it->first);
            values_.set(it->first, it->second);
            it = sparse_.erase(it);
        } else {
            ++it;
        }
    }
    sorted_valid_ = false;
}

const std::vector<uint64_t>& ClusterValues::sorted_sparse() const
{
    if (!sorted_valid_) {
        sorted_.clear();
        sorted_.reserve(sparse_.size());
        for (const auto& [c, v] : sparse_)
            sorted_.push_back(c);
        std::sort(sorted_.begin(), sorted_.end());
        sorted_valid_ = true;
    }
    return sorted_;
}

uint64_t ClusterValues::next(uint64_t from) const
{
    uint64_t best = none;
    if (dense_ && from < clusters_) {
        uint64_t c = present_.next(from);
        if (c < clusters_)
            best = c;
    }
    if (!sparse_.empty()) {
        const auto& keys = sorted_sparse();
        auto it = std::lower_bound(keys.begin(), keys.end(), from);
        if (it != keys.end())
            best = std::min(best, *it);
    }
    return best;
}

} // namespace imgmend::check
