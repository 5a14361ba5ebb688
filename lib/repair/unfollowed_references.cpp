#include "repair/unfollowed_references.hpp"

#include <algorithm>

namespace imgmend::repair {

UnfollowedReferences::UnfollowedReferences(std::vector<std::pair<uint64_t, uint64_t>> ranges)
{
    std::sort(ranges.begin(), ranges.end());
    for (const auto& r : ranges) {
        if (!ranges_.empty() && ranges_.back().second == UINT64_MAX)
            break; // everything after is covered already
        if (!ranges_.empty() && r.first <= ranges_.back().second + 1)
            ranges_.back().second = std::max(ranges_.back().second, r.second);
        else
            ranges_.push_back(r);
    }
}

bool UnfollowedReferences::covers(uint64_t cluster) const
{
    // The last range starting at or before `cluster`.
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), std::pair{cluster, UINT64_MAX});
    return it != ranges_.begin() && std::prev(it)->second >= cluster;
}

std::optional<uint64_t> UnfollowedReferences::next_clear(uint64_t start, uint64_t count, uint64_t max_skip) const
{
    // Ranges are sorted, disjoint and never adjacent: `it` is the first
    // starting past `at`, and each step moves `at` past one range.
    uint64_t at = start;
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), std::pair{at, UINT64_MAX});
    if (it != ranges_.begin() && std::prev(it)->second >= at) {
        if (std::prev(it)->second == UINT64_MAX)
            return std::nullopt;
        at = std::prev(it)->second + 1; // `start` is covered: step past its range
    }
    for (;; ++it) {
        if (at - start > max_skip)
            return std::nullopt;
        if (it == ranges_.end() || it->first - at >= count)
            return at; // the run ends before the next range
        if (it->second == UINT64_MAX)
            return std::nullopt;
        at = it->second + 1;
    }
}

} // namespace imgmend::repair
