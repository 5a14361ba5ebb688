// The clusters past the end of the file that references point to but the
// check could not count (check::CheckState::references_beyond_end). Today
// the guest reads zeros (or an error) there; anything a repair placed in
// them would become guest data. So when a repair grows the file, it steps
// over them — within a bound: it never grows the file far to get past a
// garbage pointer, it refuses instead.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace imgmend::repair {

class UnfollowedReferences {
public:
    explicit UnfollowedReferences(std::vector<std::pair<uint64_t, uint64_t>> ranges);

    // Does some unfollowed reference point into `cluster`?
    bool covers(uint64_t cluster) const;
    // The first cluster from `start` on where `count` clusters in a row
    // cover no reference; nothing when that lies more than `max_skip`
    // clusters past `start`.
    std::optional<uint64_t> next_clear(uint64_t start, uint64_t count, uint64_t max_skip) const;

private:
    std::vector<std::pair<uint64_t, uint64_t>> ranges_; // sorted, merged, inclusive
};

} // namespace imgmend::repair
