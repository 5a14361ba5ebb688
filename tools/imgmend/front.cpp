#include "imgmend/front.hpp"

#include "batch/batch_command.hpp"
#include "check/check_command.hpp"
#include "common/diagnostics.hpp"
#include "common/exit_code.hpp"
#include "map/map_command.hpp"
#include "rebase/rebase_command.hpp"
#include "repair/repair_command.hpp"

#include <array>
#include <fmt/format.h>
#include <string_view>

#ifndef IMGMEND_VERSION
#define IMGMEND_VERSION "unknown"
#endif

namespace imgmend::tools {

namespace {

struct Command {
    std::string_view name;
    int (*run)(int, char**);
    std::string_view summary;
};

constexpr std::array commands{
    Command{"check", check_main, "find every inconsistency in a qcow2 image (as qemu-img check)"},
    Command{"repair", repair_main, "repair a qcow2 image, crash safe, with dry run and undo"},
    Command{"rebase", rebase_main, "move an overlay onto a new backing file (as qemu-img rebase)"},
    Command{"map", map_main, "show where every guest byte comes from (as qemu-img map)"},
    Command{"batch", batch_main, "check every qcow2 image under some folders, in parallel (for cron)"},
};

void print_help(std::FILE* out)
{
    fmt::print(out, "Usage: imgmend COMMAND [OPTIONS] IMAGE\n       imgmend help [COMMAND]\n       imgmend --version\n\n"
                    "Commands:\n");
    for (const auto& c : commands)
        fmt::print(out, "  {:<8} {}\n", c.name, c.summary);
    fmt::print(out, "  {:<8} {}\n", "help", "print this list, or with a COMMAND its options");
    fmt::print(out, "\n'imgmend help COMMAND' or 'imgmend COMMAND --help' shows a command's options; see imgmend(1).\n");
}

const Command* find_command(std::string_view name)
{
    for (const auto& c : commands)
        if (c.name == name)
            return &c;
    return nullptr;
}

int unknown_command(std::string_view name)
{
    return usage_error("imgmend", fmt::format("unknown command '{}' (try 'imgmend help')", name));
}

// imgmend help [COMMAND], as git: with a command, that command's --help.
int help_main(int argc, char** argv)
{
    if (argc < 3 || std::string_view(argv[2]) == "help") {
        print_help(stdout);
        return to_int(ExitCode::ok);
    }
    if (argc > 3)
        return usage_error("imgmend", "help takes one command at most (try 'imgmend help')");
    const Command* command = find_command(argv[2]);
    if (!command)
        return unknown_command(argv[2]);
    static char help_option[] = "--help";
    std::array<char*, 3> words{argv[2], help_option, nullptr};
    return command->run(2, words.data());
}

} // namespace

int front_main(int argc, char** argv)
{
    if (argc < 2) {
        print_help(stderr);
        return to_int(ExitCode::usage);
    }
    std::string_view name = argv[1];
    if (name == "help" || name == "--help" || name == "-h")
        return help_main(argc, argv);
    if (name == "--version" || name == "version") {
        fmt::print("imgmend {}\n", IMGMEND_VERSION);
        return to_int(ExitCode::ok);
    }
    if (const Command* command = find_command(name))
        return command->run(argc - 1, argv + 1);
    return unknown_command(name);
}

} // namespace imgmend::tools
