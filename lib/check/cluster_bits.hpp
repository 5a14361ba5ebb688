// One bit per host cluster: a set of clusters that costs 2 MiB for the 16 M
// clusters of a 1 TiB image, whatever it holds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace imgmend::check {

class ClusterBits {
public:
    explicit ClusterBits(uint64_t clusters) : size_(clusters), words_((clusters + 63) / 64, 0) {}
    uint64_t size() const { return size_; }
    bool test(uint64_t cluster) const { return (words_[cluster / 64] >> (cluster % 64)) & 1; }
    void set(uint64_t cluster) { words_[cluster / 64] |= uint64_t{1} << (cluster % 64); }
    void reset(uint64_t cluster) { words_[cluster / 64] &= ~(uint64_t{1} << (cluster % 64)); }
    void resize(uint64_t clusters)
    {
        size_ = clusters;
        words_.resize((clusters + 63) / 64, 0);
    }
    const uint64_t* words() const { return words_.data(); }
    // The first set cluster at or after `from` and before `limit`; size()
    // when there is none.
    uint64_t next(uint64_t from, uint64_t limit = ~uint64_t{0}) const
    {
        limit = std::min(limit, size_);
        if (from >= limit)
            return size_;
        uint64_t w = from / 64, last_word = (limit - 1) / 64;
        uint64_t bits = words_[w] & (~uint64_t{0} << (from % 64));
        while (bits == 0) {
            if (++w > last_word)
                return size_;
            bits = words_[w];
        }
        uint64_t c = w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
        return c < limit ? c : size_;
    }

private:
    uint64_t size_;
    std::vector<uint64_t> words_;
};

} // namespace imgmend::check
