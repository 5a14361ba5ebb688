// Progress on stderr for long work: a bar that redraws in place (human), or
// JSON lines {"done": N, "total": N, "phase": "..."} for UIs.
#pragma once

#include <boost/program_options/variables_map.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imgmend::tools {

enum class ProgressStyle { off, bar, json };

// The style asked for by --progress[=bar|json] (OptionParser::add_progress_option);
// nullopt, after printing the error, for an unknown style.
std::optional<ProgressStyle> progress_style(std::string_view tool, const boost::program_options::variables_map& vm);

class Progress {
public:
    Progress(ProgressStyle style, std::string phase) : style_(style), phase_(std::move(phase)) {}
    ~Progress() { finish(); }
    void update(uint64_t done, uint64_t total);
    void finish();

private:
    ProgressStyle style_;
    std::string phase_;
    std::chrono::steady_clock::time_point last_{};
    uint64_t done_ = 0, total_ = 0;
    int last_percent_ = -1;
    bool finished_ = false;
};

} // namespace imgmend::tools
