#include "check/check_command.hpp"

#include "check/check.hpp"
#include "check/check_output.hpp"
#include "common/diagnostics.hpp"
#include "common/exit_code.hpp"
#include "common/options.hpp"
#include "common/progress.hpp"
#include "formats/chain.hpp"
#include "formats/qcow2_layer.hpp"
#include "io/file_device.hpp"
#include "repair/repair_command.hpp"

#include <cstring>

namespace imgmend::tools {

namespace {

constexpr const char* tool = "imgmend-check";

} // namespace

int check_main(int argc, char** argv)
{
    // qemu-img habits: `imgmend-check -r leaks|all` is imgmend-repair.
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "-r") == 0 || std::strncmp(argv[i], "--repair", 8) == 0 ||
            (std::strncmp(argv[i], "-r", 2) == 0 && argv[i][2] != '\0'))
            return repair_main(argc, argv);
    OptionParser parser(tool, "[-f FMT] [--output=human|json] [-q] [-U] [-p|--progress=json] [--verify-compressed] IMAGE",
                        "Check a qcow2 image for inconsistencies, as qemu-img check does, and explain each one.");
    parser.add_image_options();
    parser.options().add_options()
        ("output", po::value<std::string>()->default_value("human"), "human or json")
        ("quiet,q", "print nothing on stdout (findings still go to stderr)")
        ("verify-compressed", "also decompress every compressed cluster (slower)")
        ("repair,r", po::value<std::string>(), "repair: leaks or all (runs imgmend-repair)");
    parser.add_progress_option();
    if (auto code = parser.parse(argc, argv))
        return *code;
    const auto& vm = parser.vm();
    std::string output = vm["output"].as<std::string>();
    if (output != "human" && output != "json") {
        print_error(tool, fmt::format("--output must be human or json, not '{}'", output));
        return to_int(ExitCode::usage);
    }
    const std::string path = vm["image"].as<std::string>();
    bool force_share = vm.count("force-share") > 0;

    std::optional<formats::Format> format;
    if (vm.count("format")) {
        auto f = formats::parse_format(vm["format"].as<std::string>());
        if (!f)
            return fail_with(tool, f.error().message);
        format = *f;
    }
    auto dev = io::FileDevice::open(path, io::Access::read_only,
                                    force_share ? io::LockMode::none : io::LockMode::shared_read);
    if (!dev)
        return fail_with(tool, fmt::format("Could not open '{}': {}", path, dev.error().message));
    if (!format) {
        auto probed = formats::probe_format(**dev);
        if (!probed)
            return fail_with(tool, probed.error().message);
        format = *probed;
    }
    if (*format != formats::Format::qcow2) {
        print_error(tool, "This image format does not support checks");
        return to_int(ExitCode::no_check);
    }
    if (force_share && (*dev)->writer_present())
        print_warning(tool, "another process is writing to the image (-U): the result may be inconsistent");
    auto image = qcow2::Image::open(*dev);
    if (!image)
        return fail_with(tool, fmt::format("Could not open '{}': {}", path, image.error().message));

    auto style = progress_style(tool, vm);
    if (!style)
        return to_int(ExitCode::usage);
    Progress tables(*style, "tables");
    Progress refcounts(*style, "refcounts");
    check::CheckOptions options;
    options.verify_compressed = vm.count("verify-compressed") ? check::VerifyCompressed::yes : check::VerifyCompressed::no;
    options.progress = [&](uint64_t done, uint64_t total, std::string_view phase) {
        if (phase == "tables")
            return tables.update(done, total);
        tables.finish(); // the walk is over: its phase ends before the next one starts
        refcounts.update(done, total);
    };
    auto report = check::check_qcow2(**image, options);
    tables.finish();
    refcounts.finish();
    if (!report)
        return fail_with(tool, fmt::format("Check failed: {}", report.error().message));

    bool quiet = vm.count("quiet") > 0;
    if (output == "json") {
        if (!quiet)
            print_json(report_json({path, "qcow2"}, *report), {{"findings", report->findings}});
    } else {
        print_findings_human(*report);
        if (!quiet)
            print_summary_human(*report);
    }
    if (report->check_errors)
        print_error(tool, "Check failed");
    return check_exit_code(*report);
}

} // namespace imgmend::tools
