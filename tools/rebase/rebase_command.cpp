#include "rebase/rebase_command.hpp"

#include "common/diagnostics.hpp"
#include "common/exit_code.hpp"
#include "common/options.hpp"
#include "common/progress.hpp"
#include "formats/probe.hpp"
#include "io/file_device.hpp"
#include "rebase/rebase.hpp"

namespace imgmend::tools {

namespace {

constexpr const char* tool = "imgmend-rebase";

} // namespace

int rebase_main(int argc, char** argv)
{
    OptionParser parser(tool, "[-f FMT] -b BACKING [-F FMT | -B FMT] [-u] [-c] [-p|--progress=json] [-q] [-U] IMAGE",
                        "Move a qcow2 overlay onto a new backing file (\"\" flattens it) without changing what the "
                        "guest reads.");
    // Not add_image_options(): the overlay can only be qcow2, and -U leaves
    // the overlay's write lock in place.
    parser.options().add_options()
        ("format,f", po::value<std::string>(), "the overlay's format: must be qcow2 (probed when absent)")
        ("force-share,U", "open the backing files without locks (the overlay is always locked)")
        ("backing,b", po::value<std::string>(), "the new backing file, as it will be stored (\"\": none)")
        ("backing-format,F", po::value<std::string>(),
         "format of the new backing file, qcow2 or raw (required unless -b \"\")")
        (",B", po::value<std::string>(), "same as -F (with both, they must agree)")
        ("unsafe,u", "only rewrite the backing reference; compare and copy nothing")
        ("compress,c", "write copied clusters compressed (not with -u)")
        ("quiet,q", "print nothing but errors");
    parser.add_progress_option();
    if (auto code = parser.parse(argc, argv))
        return *code;
    const auto& vm = parser.vm();
    const std::string path = vm["image"].as<std::string>();
    if (!vm.count("backing"))
        return fail_with(tool, "-b BACKING is required (use -b \"\" to flatten)");

    rebase::RebaseOptions options;
    options.backing = vm["backing"].as<std::string>();
    // -B is our synonym of -F (qemu-img rebase has no -B): both may be
    // given, but not naming two formats.
    for (const char* key : {"backing-format", "-B"}) {
        if (!vm.count(key) || vm[key].as<std::string>().empty())
            continue;
        auto f = formats::parse_format(vm[key].as<std::string>());
        if (!f)
            return fail_with(tool, f.error().message);
        if (options.backing_format && *options.backing_format != *f)
            return usage_error(tool, fmt::format("-F {} and -B {} name different backing formats (-B is the same as -F)",
                                                 vm["backing-format"].as<std::string>(), vm["-B"].as<std::string>()));
        options.backing_format = *f;
    }
    // Unsafe mode copies nothing, so there would be nothing to compress.
    if (vm.count("unsafe") && vm.count("compress"))
        return usage_error(tool, "-c cannot be used with -u: an unsafe rebase copies no data to compress");
    options.mode = vm.count("unsafe") ? rebase::Mode::unsafe : rebase::Mode::safe;
    options.compress = vm.count("compress") ? rebase::Compress::yes : rebase::Compress::no;
    options.backing_lock = vm.count("force-share") ? io::LockMode::none : io::LockMode::shared_read;
    if (vm.count("format") && vm["format"].as<std::string>() != "qcow2")
        return fail_with(tool, "only qcow2 overlays can be rebased");

    auto dev = io::FileDevice::open(path, io::Access::read_write, io::LockMode::write);
    if (!dev)
        return fail_with(tool, fmt::format("Could not open '{}': {}", path, dev.error().message));
    auto format = formats::probe_format(**dev);
    if (!format || *format != formats::Format::qcow2)
        return fail_with(tool, fmt::format("'{}' is not a qcow2 image: only qcow2 overlays can be rebased", path));

    auto style = progress_style(tool, vm);
    if (!style)
        return to_int(ExitCode::usage);
    Progress progress(vm.count("quiet") ? ProgressStyle::off : *style, "rebase");
    options.progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
    auto stats = rebase::rebase_overlay(path, *dev, options);
    progress.finish();
    if (!stats)
        return fail_with(tool, stats.error().message);
    return to_int(ExitCode::ok);
}

} // namespace imgmend::tools
