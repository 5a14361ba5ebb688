#include "common/progress.hpp"

#include <fmt/format.h>

namespace imgmend::tools {

void Progress::update(uint64_t done, uint64_t total)
{
    if (style_ == ProgressStyle::off)
        return;
    done_ = done;
    total_ = total;
    int percent = total == 0 ? 100 : static_cast<int>(done * 100 / total);
    auto now = std::chrono::steady_clock::now();
    // Redraw at most ten times a second, and only when the figure moves.
    if (percent == last_percent_ || now - last_ < std::chrono::milliseconds(100))
        return;
    last_ = now;
    last_percent_ = percent;
    if (style_ == ProgressStyle::json)
        fmt::print(stderr, "{{\"done\": {}, \"total\": {}, \"phase\": \"{}\"}}\n", done, total, phase_);
    else
        fmt::print(stderr, "\r    ({}.00/100%)", percent);
}

void Progress::finish()
{
    if (style_ == ProgressStyle::off || finished_)
        return;
    finished_ = true;
    if (style_ == ProgressStyle::json)
        fmt::print(stderr, "{{\"done\": {}, \"total\": {}, \"phase\": \"{}\"}}\n", total_, total_, phase_);
    else
        fmt::print(stderr, "\r    (100.00/100%)\n");
}

} // namespace imgmend::tools
