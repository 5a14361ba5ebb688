#include "batch/batch_command.hpp"

#include "batch/image_finder.hpp"
#include "check/check.hpp"
#include "common/diagnostics.hpp"
#include "common/exit_code.hpp"
#include "common/options.hpp"
#include "io/file_device.hpp"
#include "io/write_plan.hpp"
#include "repair/repair.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace imgmend::tools {

namespace {

constexpr const char* tool = "imgmend-batch";

enum class Verdict { clean, leaks, corrupt, incomplete, in_use, error };

const char* verdict_name(Verdict v)
{
    switch (v) {
    case Verdict::clean: return "clean";
    case Verdict::leaks: return "leaks";
    case Verdict::corrupt: return "corrupt";
    case Verdict::incomplete: return "incomplete";
    case Verdict::in_use: return "in-use";
    case Verdict::error: return "error";
    }
    return "error";
}

// Worst first: corruptions, then a check that could not run, then leaks.
int severity(Verdict v)
{
    switch (v) {
    case Verdict::corrupt: return 4;
    case Verdict::incomplete:
    case Verdict::error: return 3;
    case Verdict::leaks: return 2;
    default: return 0;
    }
}

int exit_code_for(Verdict v)
{
    switch (v) {
    case Verdict::corrupt: return to_int(ExitCode::corruptions);
    case Verdict::incomplete:
    case Verdict::error: return to_int(ExitCode::failed);
    case Verdict::leaks: return to_int(ExitCode::leaks);
    default: return to_int(ExitCode::ok);
    }
}

// --jobs: enough for any machine, few enough that a typo cannot start
// millions of threads.
constexpr long long max_jobs = 1024;

struct Outcome {
    std::string path;
    Verdict verdict = Verdict::error;
    uint64_t corruptions = 0, leaks = 0, findings = 0, leaks_repaired = 0;
    double seconds = 0;
    std::string message;
};

Verdict verdict_of(const check::CheckReport& r)
{
    if (r.check_errors)
        return Verdict::incomplete;
    if (r.corruptions)
        return Verdict::corrupt;
    return r.leaks ? Verdict::leaks : Verdict::clean;
}

void repair_leaks(Outcome& out)
{
    auto dev = io::FileDevice::open(out.path, io::Access::read_write, io::LockMode::write);
    if (!dev) {
        if (dev.error().code == util::Errc::in_use)
            out.message = "leaks not repaired: the image is in use";
        else
            out.message = dev.error().message;
        return;
    }
    auto image = qcow2::Image::open(*dev);
    if (!image)
        return;
    auto plan = repair::plan_repair(**image, repair::RepairMode::leaks);
    if (!plan || !io::execute(plan->plan, **dev, nullptr)) {
        out.message = "leak repair failed";
        return;
    }
    out.leaks_repaired = plan->leaks_fixed;
    auto again = qcow2::Image::open(*dev);
    if (!again)
        return;
    auto report = check::check_qcow2(**again);
    if (!report)
        return;
    out.verdict = verdict_of(*report);
    out.corruptions = report->corruptions;
    out.leaks = report->leaks;
}

Outcome check_one(const std::string& path, bool repair)
{
    auto started = std::chrono::steady_clock::now();
    Outcome out;
    out.path = path;
    auto dev = io::FileDevice::open(path, io::Access::read_only, io::LockMode::shared_read);
    if (!dev) {
        out.verdict = dev.error().code == util::Errc::in_use ? Verdict::in_use : Verdict::error;
        out.message = dev.error().code == util::Errc::in_use ? "in use by another process" : dev.error().message;
    } else if (auto image = qcow2::Image::open(*dev); !image) {
        out.message = image.error().message;
    } else if (auto report = check::check_qcow2(**image); !report) {
        out.verdict = Verdict::incomplete;
        out.message = report.error().message;
    } else {
        out.verdict = verdict_of(*report);
        out.corruptions = report->corruptions;
        out.leaks = report->leaks;
        out.findings = report->total_findings();
        if (repair && out.verdict == Verdict::leaks) {
            dev->reset(); // release the read lock before taking the write lock
            image->reset();
            repair_leaks(out);
        }
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
}

void print_outcome(const Outcome& o, bool jsonl)
{
    if (jsonl) {
        nlohmann::ordered_json j;
        j["path"] = o.path;
        j["verdict"] = verdict_name(o.verdict);
        j["corruptions"] = o.corruptions;
        j["leaks"] = o.leaks;
        j["findings"] = o.findings;
        if (o.leaks_repaired)
            j["leaks-repaired"] = o.leaks_repaired;
        j["duration"] = o.seconds;
        if (!o.message.empty())
            j["message"] = o.message;
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print("{}: {} ({} corruptions, {} leaks{}){}\n", o.path, verdict_name(o.verdict), o.corruptions, o.leaks,
                   o.leaks_repaired ? fmt::format(", {} leaks repaired", o.leaks_repaired) : "",
                   o.message.empty() ? "" : " - " + o.message);
    }
    std::fflush(stdout);
}

} // namespace

int batch_main(int argc, char** argv)
{
    OptionParser parser(tool, "[--jobs N] [--repair-leaks] [--output=human|jsonl] PATH...",
                        "Check every qcow2 image under PATHs in parallel, skipping images in use (for cron).",
                        Positionals::many_paths);
    parser.options().add_options()
        // Signed, so that -j -1 reaches the range check instead of wrapping.
        ("jobs,j",
         po::value<long long>()->default_value(std::clamp<long long>(std::thread::hardware_concurrency(), 1, max_jobs)),
         "images checked at once, 1 to 1024 (default: the number of CPUs)")
        ("repair-leaks", "repair leaks (only leaks, only on images not in use)")
        ("output", po::value<std::string>()->default_value("human"), "human or jsonl");
    if (auto code = parser.parse(argc, argv))
        return *code;
    const auto& vm = parser.vm();
    std::string output = vm["output"].as<std::string>();
    if (output != "human" && output != "jsonl")
        return usage_error(tool, fmt::format("--output must be human or jsonl, not '{}'", output));
    bool jsonl = output == "jsonl";
    bool repair = vm.count("repair-leaks") > 0;
    long long jobs = vm["jobs"].as<long long>();
    if (jobs < 1 || jobs > max_jobs)
        return usage_error(tool, fmt::format("--jobs must be between 1 and {}, not {}", max_jobs, jobs));

    FoundImages found = find_qcow2_images(vm["image"].as<std::vector<std::string>>());
    for (const auto& e : found.errors)
        print_error(tool, e);
    for (const auto& w : found.warnings)
        print_warning(tool, w);

    // Lines come out in the sorted order of the images whatever the jobs'
    // timing: an outcome waits until those before it are printed, and each
    // is printed as soon as it can be (a cron log still grows as it goes).
    std::vector<Outcome> outcomes(found.images.size());
    std::vector<bool> checked(found.images.size(), false);
    size_t next_to_print = 0;
    std::atomic<size_t> next{0};
    std::mutex print_lock;
    auto worker = [&] {
        for (size_t i; (i = next++) < found.images.size();) {
            Outcome outcome = check_one(found.images[i], repair);
            std::lock_guard<std::mutex> guard(print_lock);
            outcomes[i] = std::move(outcome);
            checked[i] = true;
            for (; next_to_print < outcomes.size() && checked[next_to_print]; ++next_to_print)
                print_outcome(outcomes[next_to_print], jsonl);
        }
    };
    std::vector<std::thread> threads;
    for (size_t k = 0; k < std::min<size_t>(static_cast<size_t>(jobs), found.images.size()); ++k)
        threads.emplace_back(worker);
    for (auto& t : threads)
        t.join();

    std::map<std::string, uint64_t> tally;
    Verdict worst = Verdict::clean;
    for (const auto& o : outcomes) {
        ++tally[verdict_name(o.verdict)];
        if (severity(o.verdict) > severity(worst))
            worst = o.verdict;
    }
    if (!found.errors.empty() && severity(worst) < severity(Verdict::error))
        worst = Verdict::error;
    if (jsonl) {
        nlohmann::ordered_json summary;
        summary["images"] = outcomes.size();
        for (const auto& [name, n] : tally)
            summary[name] = n;
        summary["exit"] = exit_code_for(worst);
        fmt::print("{}\n", nlohmann::ordered_json{{"summary", summary}}.dump());
    } else {
        std::string parts;
        for (const auto& [name, n] : tally)
            parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", n, name);
        fmt::print("{} images checked{}{}\n", outcomes.size(), parts.empty() ? "" : ": ", parts);
    }
    return exit_code_for(worst);
}

} // namespace imgmend::tools
