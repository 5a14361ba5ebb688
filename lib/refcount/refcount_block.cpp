#include "refcount/refcount_block.hpp"

#include "util/cursor.hpp"

namespace imgmend::refcount {

uint64_t get_entry(std::span<const uint8_t> block, uint32_t order, uint64_t index)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        uint32_t bits = 1u << order;
        uint64_t bit = index * bits;
        return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
    }
    case 3: return block[index];
    case 4: return util::load_be16(block, index * 2);
    case 5: return util::load_be32(block, index * 4);
    default: return util::load_be64(block, index * 8);
    }
}

void set_entry(std::span<uint8_t> block, uint32_t order, uint64_t index, uint64_t value)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        uint32_t bits = 1u << order;
        uint64_t bit = index * bits;
        uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << (bit % 8));
        block[bit / 8] = static_cast<uint8_t>((block[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
        return;
    }
    case 3: block[index] = static_cast<uint8_t>(value); return;
    case 4: util::store_be16(block, index * 2, static_cast<uint16_t>(value)); return;
    case 5: util::store_be32(block, index * 4, static_cast<uint32_t>(value)); return;
    default: util::store_be64(block, index * 8, value); return;
    }
}

} // namespace imgmend::refcount
