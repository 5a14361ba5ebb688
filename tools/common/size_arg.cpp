#include "common/size_arg.hpp"

#include "util/checked.hpp"

#include <cctype>
#include <cmath>

namespace imgmend::tools {

// As qemu's size parser: leading blanks, a decimal number (a fraction only
// with a unit) or a 0x hexadecimal one, an optional unit (b, k, M, G, T, P,
// E; any case), nothing after; the result at most INT64_MAX.
util::Result<uint64_t> parse_size(std::string_view text)
{
    auto bad = [&] { return util::fail(util::Errc::invalid_argument, "invalid size '{}'", text); };
    size_t i = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
        ++i;
    bool hex = text.substr(i, 2) == "0x" || text.substr(i, 2) == "0X";
    if (hex)
        i += 2;
    uint64_t whole = 0;
    size_t digits = 0;
    for (; i < text.size(); ++i, ++digits) {
        char c = text[i];
        int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : hex && std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(c) - 'a' + 10
                                                                      : -1;
        if (d < 0)
            break;
        auto v = util::checked_mul(whole, hex ? 16 : 10);
        if (v)
            v = util::checked_add(*v, static_cast<uint64_t>(d));
        if (!v)
            return bad();
        whole = *v;
    }
    if (digits == 0)
        return bad();
    double fraction = 0;
    if (!hex && i < text.size() && text[i] == '.') {
        double scale = 0.1;
        size_t start = ++i;
        for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, scale /= 10)
            fraction += (text[i] - '0') * scale;
        if (i == start)
            return bad();
    }
    uint64_t unit = 1;
    bool has_unit = false;
    if (i < text.size()) {
        static constexpr std::string_view units = "bkmgtpe";
        auto pos = units.find(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
        if (pos == std::string_view::npos || i + 1 != text.size())
            return bad();
        unit = uint64_t{1} << (10 * pos);
        has_unit = pos > 0;
    }
    if (fraction > 0 && !has_unit)
        return bad(); // "1.5" means nothing without a unit
    auto value = util::checked_mul(whole, unit);
    if (!value)
        return bad();
    auto extra = static_cast<uint64_t>(std::floor(fraction * static_cast<double>(unit)));
    auto total = util::checked_add(*value, extra);
    if (!total || *total > uint64_t(INT64_MAX))
        return util::fail(util::Errc::invalid_argument, "invalid size '{}': must be between 0 and {}", text, INT64_MAX);
    return *total;
}

} // namespace imgmend::tools
