// Command-line parsing shared by every tool: Boost.ProgramOptions with
// --help, one positional IMAGE, and errors printed the one way.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

namespace imgmend::tools {

namespace po = boost::program_options;

enum class Positionals { one_image, many_paths };

class OptionParser {
public:
    OptionParser(std::string tool, std::string usage, std::string summary,
                 Positionals positionals = Positionals::one_image);

    po::options_description& options() { return options_; }
    // Adds -f/--format and -U/--force-share.
    void add_image_options(const char* force_share_help = "open without taking qemu's image locks");
    // Adds -p / --progress[=bar|json].
    void add_progress_option();

    // Parses; on --help or a usage error prints and returns the exit code
    // to use, else nullopt with the variables in vm().
    std::optional<int> parse(int argc, char** argv);
    const po::variables_map& vm() const { return vm_; }
    const std::string& tool() const { return tool_; }
    void print_help() const;

private:
    std::string tool_;
    std::string usage_;
    std::string summary_;
    po::options_description options_;
    po::variables_map vm_;
    Positionals positionals_;
};

} // namespace imgmend::tools
