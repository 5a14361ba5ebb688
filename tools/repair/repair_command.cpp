#include "repair/repair_command.hpp"

#include "check/check_output.hpp"
#include "common/diagnostics.hpp"
#include "common/exit_code.hpp"
#include "common/options.hpp"
#include "common/progress.hpp"
#include "formats/probe.hpp"
#include "io/file_device.hpp"
#include "repair/repair.hpp"

#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace imgmend::tools {

namespace {

constexpr const char* tool = "imgmend-repair";

const char* step_name(io::Step::Kind kind)
{
    switch (kind) {
    case io::Step::Kind::write: return "write";
    case io::Step::Kind::flush: return "flush";
    case io::Step::Kind::discard: return "discard";
    }
    return "?";
}

void print_plan(const io::Plan& plan, bool json)
{
    if (json)
        return;
    fmt::print("Planned changes ({} writes):\n", plan.writes());
    for (const auto& s : plan.steps()) {
        if (s.kind == io::Step::Kind::flush)
            fmt::print("    flush    {}\n", s.what);
        else
            fmt::print("    {:<8} {:#x} +{}  {}\n", step_name(s.kind), s.offset,
                       s.kind == io::Step::Kind::write ? s.data.size() : s.length, s.what);
    }
}

nlohmann::ordered_json plan_json(const io::Plan& plan)
{
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    for (const auto& s : plan.steps()) {
        nlohmann::ordered_json j;
        j["step"] = step_name(s.kind);
        if (s.kind != io::Step::Kind::flush) {
            j["offset"] = s.offset;
            j["length"] = s.kind == io::Step::Kind::write ? s.data.size() : s.length;
        }
        j["what"] = s.what;
        steps.push_back(std::move(j));
    }
    return steps;
}

int undo(const std::string& undo_path, const std::string& image_path)
{
    auto image = io::FileDevice::open(image_path, io::Access::read_write, io::LockMode::write);
    if (!image)
        return fail_with(tool, fmt::format("Could not open '{}': {}", image_path, image.error().message));
    auto file = io::FileDevice::open(undo_path, io::Access::read_only, io::LockMode::none);
    if (!file)
        return fail_with(tool, file.error().message);
    auto done = io::apply_undo(**file, **image);
    if (!done)
        return fail_with(tool, done.error().message);
    fmt::print("Restored '{}' from '{}'.\n", image_path, undo_path);
    return to_int(ExitCode::ok);
}

} // namespace

int repair_main(int argc, char** argv)
{
    // One finding per line goes to stderr, which is unbuffered: a repair of
    // 100,000 leaks would make 200,000 write calls. Buffered, it is flushed
    // before each thing printed on stdout (and at exit), so the order holds.
    static char stderr_buffer[1 << 16];
    std::setvbuf(stderr, stderr_buffer, _IOFBF, sizeof stderr_buffer);
    OptionParser parser(tool, "-r leaks|all [-f FMT] [--output=human|json] [--dry-run] [--undo-file=FILE] [-p|--progress=json] IMAGE\n"
                              "       imgmend-repair --undo FILE IMAGE",
                        "Repair a qcow2 image as qemu-img check -r does, never losing data, crash safe at every write.");
    parser.add_image_options("only with --dry-run: open without taking qemu's image locks");
    parser.options().add_options()
        ("repair,r", po::value<std::string>(), "leaks (lower refcounts that are too high) or all")
        ("output", po::value<std::string>()->default_value("human"), "human or json")
        ("dry-run", "print every planned write and change nothing")
        ("undo-file", po::value<std::string>(), "save the bytes about to be overwritten to FILE first")
        ("undo", po::value<std::string>(), "restore IMAGE from an undo file")
        ("quiet,q", "print nothing on stdout (findings and errors still go to stderr)");
    parser.add_progress_option();
    if (auto code = parser.parse(argc, argv))
        return *code;
    const auto& vm = parser.vm();
    const std::string path = vm["image"].as<std::string>();
    if (vm.count("undo")) {
        // An undo writes: nothing that would make it look like a dry run,
        // a repair or another format may go with it unnoticed.
        const std::pair<const char*, const char*> others[] = {
            {"repair", "-r"},       {"dry-run", "--dry-run"},    {"undo-file", "--undo-file"}, {"format", "-f"},
            {"force-share", "-U"},  {"progress", "--progress"},  {"-p", "-p"}};
        for (const auto& [key, shown] : others)
            if (vm.count(key))
                return fail_with(tool, fmt::format("--undo cannot be combined with {}", shown));
        if (!vm["output"].defaulted())
            return fail_with(tool, "--undo cannot be combined with --output");
        return undo(vm["undo"].as<std::string>(), path);
    }
    if (!vm.count("repair"))
        return fail_with(tool, "-r leaks or -r all is required (try 'imgmend-repair --help')");
    std::string mode_name = vm["repair"].as<std::string>();
    if (mode_name != "leaks" && mode_name != "all")
        return fail_with(tool, fmt::format("-r must be leaks or all, not '{}'", mode_name));
    repair::RepairMode mode = mode_name == "all" ? repair::RepairMode::all : repair::RepairMode::leaks;
    std::string output = vm["output"].as<std::string>();
    if (output != "human" && output != "json")
        return fail_with(tool, fmt::format("--output must be human or json, not '{}'", output));
    bool json = output == "json";
    bool dry_run = vm.count("dry-run") > 0;
    bool quiet = vm.count("quiet") > 0;
    if (vm.count("force-share") && !dry_run)
        return fail_with(tool, "-U cannot be used when repairing: a repair needs the image to itself");

    io::LockMode lock = dry_run ? (vm.count("force-share") ? io::LockMode::none : io::LockMode::shared_read)
                                : io::LockMode::write;
    auto dev = io::FileDevice::open(path, dry_run ? io::Access::read_only : io::Access::read_write, lock);
    if (!dev)
        return fail_with(tool, fmt::format("Could not open '{}': {}", path, dev.error().message));
    formats::Format format = formats::Format::qcow2;
    if (vm.count("format")) {
        auto f = formats::parse_format(vm["format"].as<std::string>());
        if (!f)
            return fail_with(tool, f.error().message);
        format = *f;
    } else {
        auto probed = formats::probe_format(**dev);
        if (!probed)
            return fail_with(tool, probed.error().message);
        format = *probed;
    }
    if (format != formats::Format::qcow2) {
        print_error(tool, "This image format does not support checks");
        return to_int(ExitCode::no_check);
    }
    auto image = qcow2::Image::open(*dev);
    if (!image)
        return fail_with(tool, fmt::format("Could not open '{}': {}", path, image.error().message));

    auto style = progress_style(tool, vm);
    if (!style)
        return to_int(ExitCode::usage);
    Progress tables(*style, "tables");
    Progress refcounts(*style, "refcounts");
    check::CheckOptions options;
    options.progress = [&](uint64_t done, uint64_t total, std::string_view phase) {
        (phase == "tables" ? tables : refcounts).update(done, total);
    };
    auto outcome = repair::plan_repair(**image, mode, options);
    tables.finish();
    refcounts.finish();
    if (!outcome)
        return fail_with(tool, fmt::format("Repair not possible, nothing was changed: {}", outcome.error().message));

    if (!json)
        print_findings_human(outcome->before);
    for (const auto& line : outcome->notes)
        fmt::print(stderr, "{}\n", line);
    for (const auto& line : outcome->refused)
        fmt::print(stderr, "{}\n", line);
    std::fflush(stderr); // before anything goes to stdout

    if (dry_run) {
        if (!quiet && !json)
            print_plan(outcome->plan, json);
        if (!quiet && json) {
            auto j = report_json({path, "qcow2"}, outcome->before);
            j["dry-run"] = true;
            j["notes"] = outcome->notes;
            j["planned"] = plan_json(outcome->plan);
            print_json(j, {{"findings", outcome->before.findings}});
        }
        return check_exit_code(outcome->before);
    }

    std::shared_ptr<io::FileDevice> undo_dev;
    if (vm.count("undo-file")) {
        const std::string undo_path = vm["undo-file"].as<std::string>();
        int fd = ::open(undo_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return fail_with(tool, fmt::format("Could not create undo file '{}': {}", undo_path, strerror(errno)));
        ::close(fd);
        auto u = io::FileDevice::open(undo_path, io::Access::read_write, io::LockMode::none);
        if (!u)
            return fail_with(tool, u.error().message);
        undo_dev = *u;
    }
    auto done = io::execute(outcome->plan, **dev, undo_dev.get());
    if (!done)
        return fail_with(tool, fmt::format("Repair interrupted: {} (the image is consistent up to the last flushed step)",
                                     done.error().message));

    auto reopened = qcow2::Image::open(*dev);
    if (!reopened)
        return fail_with(tool, fmt::format("Could not reopen '{}' after repair: {}", path, reopened.error().message));
    auto after = check::check_qcow2(**reopened);
    if (!after)
        return fail_with(tool, fmt::format("Check after repair failed: {}", after.error().message));

    if (json) {
        if (!quiet) {
            auto j = report_json({path, "qcow2"}, *after, {outcome->leaks_fixed, outcome->corruptions_fixed});
            j["before"] = {{"corruptions", outcome->before.corruptions},
                           {"leaks", outcome->before.leaks},
                           {"check-errors", outcome->before.check_errors}};
            if (outcome->before.unlisted)
                j["before"]["findings-unlisted"] = outcome->before.unlisted;
            j["refused"] = outcome->refused;
            j["notes"] = outcome->notes;
            j["rebuilt-refcounts"] = outcome->rebuild;
            print_json(j, {{"findings", after->findings}, {"findings-before", outcome->before.findings}});
        }
    } else {
        if (!quiet && (outcome->leaks_fixed || outcome->corruptions_fixed)) {
            fmt::print("The following inconsistencies were found and repaired:\n\n"
                       "    {} leaked clusters\n    {} corruptions\n\n",
                       outcome->leaks_fixed, outcome->corruptions_fixed);
            fmt::print("Double checking the fixed image now...\n");
        }
        print_findings_human(*after);
        std::fflush(stderr);
        if (!quiet)
            print_summary_human(*after);
    }
    if (after->check_errors)
        print_error(tool, "Check failed");
    return check_exit_code(*after);
}

} // namespace imgmend::tools
