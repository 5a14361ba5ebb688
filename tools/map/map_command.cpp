#include "map/map_command.hpp"

#include "common/diagnostics.hpp"
#include "common/exit_code.hpp"
#include "common/open_chain.hpp"
#include "common/progress.hpp"
#include "common/size_arg.hpp"
#include "map/map_output.hpp"
#include "map/map_svg.hpp"
#include "util/checked.hpp"

namespace imgmend::tools {

namespace {

constexpr const char* tool = "imgmend-map";

std::optional<MapFormat> parse_map_format(const std::string& name)
{
    if (name == "human")
        return MapFormat::human;
    if (name == "json")
        return MapFormat::json;
    if (name == "joint")
        return MapFormat::joint;
    if (name == "svg")
        return MapFormat::svg;
    return std::nullopt;
}

} // namespace

int map_main(int argc, char** argv)
{
    OptionParser parser(tool, "[-f FMT] [--output=human|json|joint|svg] [--start-offset=N] [--max-length=N] [-U] "
                              "[--totals] [-p|--progress=json] IMAGE",
                        "Print the allocation of every guest byte of IMAGE through its backing chain.");
    parser.add_image_options();
    parser.options().add_options()
        ("output", po::value<std::string>()->default_value("human"), "human, json, joint or svg")
        ("start-offset", po::value<std::string>(), "first guest byte to map (size suffixes allowed)")
        ("max-length", po::value<std::string>(), "map at most this many bytes")
        ("totals", "print bytes per class and a fragmentation figure instead of the extents (human or json)");
    parser.add_progress_option();
    if (auto code = parser.parse(argc, argv))
        return *code;
    const auto& vm = parser.vm();

    const auto& output = vm["output"].as<std::string>();
    auto format = parse_map_format(output);
    if (!format)
        return usage_error(tool, fmt::format("--output must be human, json, joint or svg, not '{}'", output));
    // The totals are figures, not extents: there is no joint view or picture
    // of them.
    if (vm.count("totals") && *format != MapFormat::human && *format != MapFormat::json)
        return usage_error(tool, fmt::format("--totals cannot be used with --output={}: totals print as human or json",
                                             output));
    uint64_t start = 0;
    uint64_t max_length = UINT64_MAX;
    if (vm.count("start-offset")) {
        auto v = parse_size(vm["start-offset"].as<std::string>());
        if (!v)
            return fail_with(tool, v.error().message);
        start = *v;
    }
    if (vm.count("max-length")) {
        auto v = parse_size(vm["max-length"].as<std::string>());
        if (!v)
            return fail_with(tool, v.error().message);
        max_length = *v;
    }

    auto chain = open_chain_from_options(vm, {});
    if (!chain)
        return fail_with(tool, chain.error().message);
    // As qemu-img, start + length is computed in 64-bit signed arithmetic:
    // past INT64_MAX it wraps, and the window is empty.
    uint64_t end = UINT64_MAX;
    if (vm.count("max-length")) {
        auto sum = util::checked_add(start, max_length);
        end = sum && *sum <= uint64_t(INT64_MAX) ? *sum : start;
    }

    auto style = progress_style(tool, vm);
    if (!style)
        return to_int(ExitCode::usage);
    Progress progress(*style, "map");
    auto on_progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
    util::Result<void> result;
    if (*format == MapFormat::svg) {
        SvgMap svg(start, std::min(end, chain->size()));
        result = map::map_chain(*chain, start, end, [&](const map::MapEntry& e) -> util::Result<void> {
            svg.add(e);
            return {};
        }, on_progress);
        progress.finish();
        if (result)
            svg.render(stdout, vm["image"].as<std::string>());
    } else if (vm.count("totals")) {
        map::Totals totals;
        result = map::map_chain(*chain, start, end, [&](const map::MapEntry& e) -> util::Result<void> {
            totals.add(e);
            return {};
        }, on_progress);
        progress.finish();
        if (result)
            print_totals(*format, totals, stdout);
    } else {
        MapPrinter printer(*format, stdout);
        printer.begin();
        result = map::map_chain(*chain, start, end, [&](const map::MapEntry& e) { return printer.entry(e); },
                                on_progress);
        progress.finish();
        if (result)
            printer.end();
    }
    if (!result)
        return fail_with(tool, result.error().message);
    return to_int(ExitCode::ok);
}

} // namespace imgmend::tools
