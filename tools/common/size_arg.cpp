#include "common/size_arg.hpp"

#include "util/checked.hpp"

#include <cctype>

namespace imgmend::tools {

util::Result<uint64_t> parse_size(std::string_view text)
{
    auto bad = [&] { return util::fail(util::Errc::invalid_argument, "invalid size '{}'", text); };
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
        return bad();
    uint64_t value = 0;
    size_t i = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
        auto v = util::checked_mul(value, 10);
        if (v)
            v = util::checked_add(*v, static_cast<uint64_t>(text[i] - '0'));
        if (!v)
            return bad();
        value = *v;
    }
    if (i == text.size())
        return value;
    if (i + 1 != text.size() && !(i + 2 == text.size() && (text[i + 1] == 'b' || text[i + 1] == 'B')))
        return bad();
    static constexpr std::string_view suffixes = "kmgtpe";
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    if (c == 'b')
        return value;
    auto pos = suffixes.find(c);
    if (pos == std::string_view::npos)
        return bad();
    auto v = util::checked_mul(value, uint64_t{1} << (10 * (pos + 1)));
    if (!v || *v > uint64_t(INT64_MAX))
        return bad();
    return *v;
}

} // namespace imgmend::tools
