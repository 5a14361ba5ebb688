#include "check/cluster_values.hpp"

#include <algorithm>

namespace imgmend::check {

ClusterValues::ClusterValues(uint32_t refcount_order, uint64_t clusters)
    : order_(refcount_order), clusters_(clusters), present_(clusters)
{
}

std::optional<uint64_t> ClusterValues::find(uint64_t cluster) const
{
    if (cluster < clusters_) {
        if (!present_.test(cluster))
            return std::nullopt;
        if (dense_ && sparse_.empty())
            return values_.get(cluster);
        auto it = sparse_.find(cluster);
        if (it != sparse_.end())
            return it->second;
        return values_.get(cluster); // dense: a present cluster not kept aside
    }
    if (outside_ == 0)
        return std::nullopt;
    auto it = sparse_.find(cluster);
    if (it == sparse_.end())
        return std::nullopt;
    return it->second;
}

void ClusterValues::set(uint64_t cluster, uint64_t value)
{
    if (cluster >= clusters_) {
        if (sparse_.insert_or_assign(cluster, value).second) {
            ++size_;
            ++outside_;
            sorted_valid_ = false;
        }
        return;
    }
    if (!present_.test(cluster)) {
        present_.set(cluster);
        ++size_;
    }
    if (dense_ && value <= values_.max_value()) {
        sparse_.erase(cluster);
        values_.set(cluster, value);
        return;
    }
    sparse_.insert_or_assign(cluster, value);
    if (!dense_ && sparse_.size() - outside_ > std::max<uint64_t>(1024, clusters_ / 32))
        go_dense();
}

void ClusterValues::go_dense()
{
    dense_ = true;
    values_ = ClusterCounts(order_, clusters_);
    for (auto it = sparse_.begin(); it != sparse_.end();) {
        if (it->first < clusters_ && it->second <= values_.max_value()) {
            values_.set(it->first, it->second);
            it = sparse_.erase(it);
        } else {
            ++it;
        }
    }
}

const std::vector<uint64_t>& ClusterValues::sorted_outside() const
{
    if (!sorted_valid_) {
        sorted_.clear();
        sorted_.reserve(outside_);
        for (const auto& [c, v] : sparse_)
            if (c >= clusters_)
                sorted_.push_back(c);
        std::sort(sorted_.begin(), sorted_.end());
        sorted_valid_ = true;
    }
    return sorted_;
}

uint64_t ClusterValues::next(uint64_t from, uint64_t limit) const
{
    if (from >= limit)
        return none;
    if (from < clusters_) {
        uint64_t c = present_.next(from, limit);
        if (c < clusters_)
            return c;
        from = clusters_;
    }
    if (outside_ == 0 || from >= limit)
        return none;
    const auto& keys = sorted_outside();
    auto it = std::lower_bound(keys.begin(), keys.end(), from);
    return it == keys.end() || *it >= limit ? none : *it;
}

} // namespace imgmend::check
