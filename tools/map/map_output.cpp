#include "map/map_output.hpp"

#include "map/joint.hpp"

#include <fmt/compile.h>

namespace imgmend::tools {

namespace {

// printf's "%#-16x": "0x..." except plain "0" for zero, padded to 16.
std::string alt_hex(uint64_t v) { return v == 0 ? std::string("0") : fmt::format("{:#x}", v); }

} // namespace

void MapPrinter::begin()
{
    if (format_ == MapFormat::human)
        fmt::format_to(std::back_inserter(buffer_), "{:<16}{:<16}{:<16}{}\n", "Offset", "Length", "Mapped to", "File");
    else if (format_ == MapFormat::json)
        fmt::format_to(std::back_inserter(buffer_), "[");
    else
        fmt::format_to(std::back_inserter(buffer_), "{:>16} {:>16} {:>5}  {}\n", "start", "length", "flags",
                       "description");
}

util::Result<void> MapPrinter::entry(const map::MapEntry& e)
{
    auto out = std::back_inserter(buffer_);
    switch (format_) {
    case MapFormat::human:
        if (e.data && !e.offset)
            return util::fail(util::Errc::unsupported_feature,
                              "File contains external, encrypted or compressed clusters.");
        if (e.data && !e.zero)
            fmt::format_to(out, "{:<16}{:<16}{:<16}{}\n", alt_hex(e.start), alt_hex(e.length), alt_hex(*e.offset),
                           e.filename);
        break;
    case MapFormat::json:
        // Compiled format: this line is printed hundreds of thousands of times.
        fmt::format_to(out,
                       FMT_COMPILE("{}{{ \"start\": {}, \"length\": {}, \"depth\": {}, \"present\": {}, \"zero\": {}, "
                                   "\"data\": {}, \"compressed\": {}"),
                       first_ ? "" : ",\n", e.start, e.length, e.depth, e.present, e.zero, e.data, e.compressed);
        if (e.offset)
            fmt::format_to(out, FMT_COMPILE(", \"offset\": {}"), *e.offset);
        buffer_.push_back('}');
        break;
    case MapFormat::svg:
        break;
    case MapFormat::joint: {
        unsigned flags = map::joint_flags(e);
        fmt::format_to(out, "{:>16} {:>16} {:>5}  {}\n", e.start, e.length, flags, map::joint_words(flags));
        break;
    }
    }
    first_ = false;
    if (buffer_.size() > (1u << 16))
        flush();
    return {};
}

void MapPrinter::end()
{
    if (format_ == MapFormat::json)
        fmt::format_to(std::back_inserter(buffer_), "]\n");
    flush();
}

void MapPrinter::flush()
{
    if (buffer_.size() > 0)
        std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    buffer_.clear();
}

void print_totals(MapFormat format, const map::Totals& t, std::FILE* out)
{
    if (format == MapFormat::json) {
        fmt::print(out,
                   "{{ \"data-local\": {}, \"data-backing\": {}, \"zero\": {}, \"unallocated\": {}, "
                   "\"compressed\": {}, \"local-extents\": {}, \"fragmented-extents\": {}, "
                   "\"fragmentation-percent\": {:.2f} }}\n",
                   t.data_local, t.data_backing, t.zero, t.unallocated, t.compressed, t.local_extents,
                   t.fragmented_extents, t.fragmentation_percent());
        return;
    }
    fmt::print(out, "data (local):       {:>20} bytes\n", t.data_local);
    fmt::print(out, "data (backing):     {:>20} bytes\n", t.data_backing);
    fmt::print(out, "zero:               {:>20} bytes\n", t.zero);
    fmt::print(out, "unallocated:        {:>20} bytes\n", t.unallocated);
    fmt::print(out, "compressed:         {:>20} bytes\n", t.compressed);
    fmt::print(out, "fragmentation:      {:>19.2f}% ({} of {} local extents not contiguous on the host)\n",
               t.fragmentation_percent(), t.fragmented_extents, t.local_extents);
}

} // namespace imgmend::tools
