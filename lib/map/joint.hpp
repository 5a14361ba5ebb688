// The joint allocation view: base:allocation bits (hole = not data, zero)
// joined with where the range is allocated (local = top image, backing =
// a backing file), as nbdinfo shows qemu's joint allocation.
#pragma once

#include "map/map.hpp"

#include <string>

namespace imgmend::map {

inline constexpr unsigned joint_hole = 1;
inline constexpr unsigned joint_zero = 2;
inline constexpr unsigned joint_local = 4;
inline constexpr unsigned joint_backing = 8;

unsigned joint_flags(const MapEntry& e);
std::string joint_words(unsigned flags); // "hole,zero,local"; "data" when no flag

} // namespace imgmend::map
