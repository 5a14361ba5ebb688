#include "map/joint.hpp"

namespace imgmend::map {

unsigned joint_flags(const MapEntry& e)
{
    unsigned f = 0;
    if (!e.data)
        f |= joint_hole;
    if (e.zero)
        f |= joint_zero;
    if (e.present)
        f |= e.depth == 0 ? joint_local : joint_backing;
    return f;
}

std::string joint_words(unsigned flags)
{
    std::string words;
    auto add = [&](unsigned bit, const char* name) {
        if (!(flags & bit))
            return;
        if (!words.empty())
            words.push_back(',');
        words.append(name);
    };
    add(joint_hole, "hole");
    add(joint_zero, "zero");
    add(joint_local, "local");
    add(joint_backing, "backing");
    return words.empty() ? "data" : words;
}

} // namespace imgmend::map
