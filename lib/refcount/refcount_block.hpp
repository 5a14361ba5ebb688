// Refcount block entries of every width (../shared/ref/qcow2-spec.txt,
// "Host cluster management"). A block is one cluster of
// cluster_size * 8 / refcount_bits entries, refcount_bits = 1 << order.
// Widths of 8 bits and more are big-endian integers; narrower widths pack
// several entries per byte, entry i at bit (i * bits) % 8 counted from the
// least significant bit.
#pragma once

#include <cstdint>
#include <span>

namespace imgmend::refcount {

uint64_t get_entry(std::span<const uint8_t> block, uint32_t order, uint64_t index);
void set_entry(std::span<uint8_t> block, uint32_t order, uint64_t index, uint64_t value);

inline uint64_t max_refcount(uint32_t order)
{
    uint32_t bits = 1u << order;
    return bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
}

} // namespace imgmend::refcount
