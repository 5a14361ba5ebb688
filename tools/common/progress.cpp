#include "common/progress.hpp"

#include "common/diagnostics.hpp"

#include <fmt/format.h>

namespace imgmend::tools {

std::optional<ProgressStyle> progress_style(std::string_view tool, const boost::program_options::variables_map& vm)
{
    if (!vm.count("progress"))
        return vm.count("-p") ? ProgressStyle::bar : ProgressStyle::off;
    const auto& value = vm["progress"].as<std::string>();
    if (value == "bar")
        return ProgressStyle::bar;
    if (value == "json")
        return ProgressStyle::json;
    print_error(tool, fmt::format("--progress must be bar or json, not '{}'", value));
    return std::nullopt;
}

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
    if (last_percent_ == 100 && done_ == total_ && style_ == ProgressStyle::json)
        return; // the last update already said so
    if (style_ == ProgressStyle::json)
        fmt::print(stderr, "{{\"done\": {}, \"total\": {}, \"phase\": \"{}\"}}\n", total_, total_, phase_);
    else
        fmt::print(stderr, "\r    (100.00/100%)\n");
}

} // namespace imgmend::tools
