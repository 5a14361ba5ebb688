#include "common/options.hpp"

#include "common/diagnostics.hpp"
#include "common/exit_code.hpp"

#include <fmt/format.h>
#include <iostream>
#include <string>
#include <vector>

namespace imgmend::tools {

OptionParser::OptionParser(std::string tool, std::string usage, std::string summary, Positionals positionals)
    : tool_(std::move(tool)), usage_(std::move(usage)), summary_(std::move(summary)), options_("Options"),
      positionals_(positionals)
{
    options_.add_options()("help,h", "print this help and exit");
}

void OptionParser::add_image_options(const char* force_share_help)
{
    options_.add_options()
        ("format,f", po::value<std::string>(), "image format (qcow2 or raw); probed when absent")
        ("force-share,U", force_share_help);
}

void OptionParser::add_progress_option()
{
    options_.add_options()
        (",p", "show a progress bar on stderr")
        ("progress", po::value<std::string>()->implicit_value("bar"),
         "progress on stderr: --progress=bar or --progress=json (JSON lines)");
}

void OptionParser::print_help() const
{
    fmt::print("Usage: {} {}\n\n{}\n\n", tool_, usage_, summary_);
    std::cout << options_ << "\n";
    fmt::print("See {}(1) for details.\n", tool_);
}

std::optional<int> OptionParser::parse(int argc, char** argv)
{
    po::options_description all;
    all.add(options_);
    po::positional_options_description positional;
    if (positionals_ == Positionals::one_image) {
        all.add_options()("image", po::value<std::string>());
        positional.add("image", 1);
    } else {
        all.add_options()("image", po::value<std::vector<std::string>>());
        positional.add("image", -1);
    }
    // A bare "--progress" means the bar; rewritten so the next word (the
    // image) is not taken for its value.
    std::vector<std::string> words(argv + 1, argv + argc);
    for (auto& w : words)
        if (w == "--progress")
            w = "--progress=bar";
    try {
        po::store(po::command_line_parser(words).options(all).positional(positional).run(), vm_);
        po::notify(vm_);
    } catch (const po::error& e) {
        print_error(tool_, fmt::format("{} (try '{} --help')", e.what(), tool_));
        return to_int(ExitCode::usage);
    }
    if (vm_.count("help")) {
        print_help();
        return to_int(ExitCode::ok);
    }
    if (!vm_.count("image")) {
        print_error(tool_, fmt::format("Expecting {} (try '{} --help')",
                                       positionals_ == Positionals::one_image ? "one image file name" : "paths",
                                       tool_));
        return to_int(ExitCode::usage);
    }
    return std::nullopt;
}

} // namespace imgmend::tools
