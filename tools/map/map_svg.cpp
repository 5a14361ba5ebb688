#include "map/map_svg.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace imgmend::tools {

namespace {

constexpr std::array<const char*, SvgMap::classes> colours{
    "#1f77b4", "#ff7f0e", "#fdae6b", "#fdd0a2", "#feedde", "#c7c7c7", "#ffffff", "#9467bd"};
constexpr std::array<const char*, SvgMap::classes> names{"local data",       "backing depth 1", "backing depth 2",
                                                         "backing depth 3",  "backing depth 4+", "zero",
                                                         "unallocated",      "compressed"};
constexpr double width = 1000, left = 20, bar_height = 40;

size_t class_of(const map::MapEntry& e)
{
    if (!e.present)
        return 6;
    if (e.zero)
        return 5;
    if (e.compressed)
        return 7;
    if (e.depth == 0)
        return 0;
    return std::min<size_t>(static_cast<size_t>(e.depth), SvgMap::max_depth_colours);
}

std::string escape(const std::string& s)
{
    std::string out;
    for (char c : s) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

// Hue from blue (guest start) to red (guest end).
std::string gradient(double t)
{
    int hue = static_cast<int>(240 - 240 * std::clamp(t, 0.0, 1.0));
    return fmt::format("hsl({},70%,50%)", hue);
}

} // namespace

SvgMap::SvgMap(uint64_t guest_start, uint64_t guest_end)
    : start_(guest_start), end_(std::max(guest_end, guest_start + 1)), guest_bytes_(columns)
{
}

void SvgMap::add(const map::MapEntry& e)
{
    size_t cls = class_of(e);
    double span = static_cast<double>(end_ - start_);
    // Spread the extent's bytes over the columns it covers.
    uint64_t pos = e.start;
    while (pos < e.end()) {
        size_t col = std::min(columns - 1, static_cast<size_t>(static_cast<double>(pos - start_) / span * columns));
        uint64_t col_end = start_ + static_cast<uint64_t>(static_cast<double>(col + 1) / columns * span);
        uint64_t piece_end = std::max(pos + 1, std::min(e.end(), col_end));
        guest_bytes_[col][cls] += piece_end - pos;
        pos = piece_end;
    }
    if (e.depth == 0 && e.data && e.offset) {
        host_.push_back({*e.offset, e.length, e.start});
        host_end_ = std::max(host_end_, *e.offset + e.length);
    }
}

void SvgMap::render(std::FILE* out, const std::string& title) const
{
    double height = 60 + bar_height + 50 + bar_height + 40 + 20 * ((classes + 3) / 4);
    fmt::print(out,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n",
               width + 2 * left, height);
    fmt::print(out, "<text x=\"{}\" y=\"22\" font-size=\"15\">{}</text>\n", left, escape(title));
    fmt::print(out, "<text x=\"{}\" y=\"50\">guest address space: {} bytes from {}</text>\n", left, end_ - start_,
               start_);
    // Guest bar: the dominant class per column, as runs.
    double y = 58, col_w = width / columns;
    for (size_t c = 0; c < columns;) {
        const auto& b = guest_bytes_[c];
        size_t cls = static_cast<size_t>(std::max_element(b.begin(), b.end()) - b.begin());
        size_t run = c + 1;
        while (run < columns) {
            const auto& n = guest_bytes_[run];
            if (static_cast<size_t>(std::max_element(n.begin(), n.end()) - n.begin()) != cls)
                break;
            ++run;
        }
        fmt::print(out, "<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\"/>\n",
                   left + c * col_w, y, (run - c) * col_w, bar_height, colours[cls]);
        c = run;
    }
    fmt::print(out, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, y,
               width, bar_height);
    // Host bar: where the local data sits in the image file.
    y += bar_height + 40;
    fmt::print(out, "<text x=\"{}\" y=\"{}\">host file layout of local data ({} bytes; colour = guest position)</text>\n",
               left, y - 8, host_end_);
    fmt::print(out, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#eeeeee\"/>\n", left, y, width,
               bar_height);
    double host_span = static_cast<double>(std::max<uint64_t>(host_end_, 1));
    for (const auto& h : host_) {
        double x = left + static_cast<double>(h.offset) / host_span * width;
        double w = std::max(0.5, static_cast<double>(h.length) / host_span * width);
        double t = static_cast<double>(h.guest - start_) / static_cast<double>(end_ - start_);
        fmt::print(out, "<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\"/>\n", x, y, w,
                   bar_height, gradient(t));
    }
    fmt::print(out, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, y,
               width, bar_height);
    // Legend.
    y += bar_height + 20;
    for (size_t i = 0; i < classes; ++i) {
        double x = left + static_cast<double>(i % 4) * 250;
        double ly = y + static_cast<double>(i / 4) * 20;
        fmt::print(out,
                   "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{}\" stroke=\"#333\"/>"
                   "<text x=\"{}\" y=\"{}\">{}</text>\n",
                   x, ly, colours[i], x + 20, ly + 12, names[i]);
    }
    fmt::print(out, "</svg>\n");
}

} // namespace imgmend::tools
