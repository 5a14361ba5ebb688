// Test helper: runs a rebase on an in-memory copy of an overlay and stops it
// the way a crash would, so integration scenarios can hand every
// intermediate state to qemu-img.
//
//   crash_rebase [--flushed] [-u] [-c] OVERLAY BACKING FMT N OUT
//       loads OVERLAY into a MemoryDevice that crashes after N device
//       writes (every later write and flush fails), rebases it onto BACKING
//       (format FMT; BACKING "" flattens, FMT is then ignored) with
//       rebase::rebase_overlay(OVERLAY, device, ...), then writes what the
//       device holds to OUT: every write that happened (default), or with
//       --flushed only what the last successful flush made durable. OVERLAY's
//       path resolves the old and new backing names, so OUT belongs in the
//       same folder for its backing name to resolve the same way.
//       -u: unsafe (header only); -c: compress copied clusters.
//   crash_rebase count [-u] [-c] OVERLAY BACKING FMT
//       prints how many device writes the whole rebase does, so a scenario
//       can loop N from 0 to that number.
//
// Exit codes: 0 done (also when the crash stopped the rebase, as expected),
// 1 error, 2 usage.
#include "image_file.hpp"
#include "io/memory_device.hpp"
#include "rebase/rebase.hpp"

#include <fmt/format.h>
#include <stdexcept>
#include <string>
#include <vector>

using namespace imgmend;

namespace {

// Failures of this tool: the file helpers' and its own.
using Failure = test::ImageFileError;
using test::load_file;
using test::save_file;

struct Job {
    bool flushed = false;
    rebase::RebaseOptions options;
    std::string overlay;
};

// Leading flags, then OVERLAY BACKING FMT; returns the arguments left.
std::vector<std::string> parse_job(std::vector<std::string> args, Job& job, bool allow_flushed)
{
    while (!args.empty() && args[0].size() > 1 && args[0][0] == '-') {
        if (args[0] == "--flushed" && allow_flushed)
            job.flushed = true;
        else if (args[0] == "-u")
            job.options.mode = rebase::Mode::unsafe;
        else if (args[0] == "-c")
            job.options.compress = rebase::Compress::yes;
        else
            throw std::invalid_argument(fmt::format("unknown option '{}'", args[0]));
        args.erase(args.begin());
    }
    if (args.size() < 3)
        throw std::invalid_argument("expected OVERLAY BACKING FMT");
    job.overlay = args[0];
    job.options.backing = args[1];
    if (!args[1].empty()) {
        auto f = formats::parse_format(args[2]);
        if (!f)
            throw std::invalid_argument(f.error().message);
        job.options.backing_format = *f;
    }
    // The overlay's bytes live in memory: nothing else holds its file, but
    // the backing files are opened (and locked) as the tool would.
    return {args.begin() + 3, args.end()};
}

// Rebases the overlay held by `dev`; returns whether the rebase completed,
// and the error when it did not.
bool run_rebase(const std::shared_ptr<io::MemoryDevice>& dev, const Job& job, std::string& error)
{
    auto stats = rebase::rebase_overlay(job.overlay, dev, job.options);
    if (!stats)
        error = stats.error().message;
    return stats.has_value();
}

int main_throwing(std::vector<std::string> args)
{
    Job job;
    if (!args.empty() && args[0] == "count") {
        auto rest = parse_job({args.begin() + 1, args.end()}, job, false);
        if (!rest.empty())
            throw std::invalid_argument("count takes [-u] [-c] OVERLAY BACKING FMT");
        auto dev = std::make_shared<io::MemoryDevice>(load_file(job.overlay), job.overlay);
        std::string error;
        if (!run_rebase(dev, job, error))
            throw Failure(fmt::format("the rebase failed without any crash injected: {}", error));
        fmt::print("{}\n", dev->writes().size());
        return 0;
    }
    auto rest = parse_job(args, job, true);
    if (rest.size() != 2)
        throw std::invalid_argument("expected OVERLAY BACKING FMT N OUT");
    size_t n = std::stoul(rest[0]);
    auto dev = std::make_shared<io::MemoryDevice>(load_file(job.overlay), job.overlay);
    dev->crash_after_write(n);
    std::string error;
    bool completed = run_rebase(dev, job, error);
    // The crash must have stopped the rebase at exactly N writes (or the
    // rebase needs fewer, and then it completed): any other failure is one
    // the crash did not cause.
    if (!completed && dev->writes().size() != n)
        throw Failure(fmt::format("the rebase stopped after {} writes, not at the crash after {}: {}",
                                  dev->writes().size(), n, error));
    save_file(rest[1], job.flushed ? dev->flushed_bytes() : dev->bytes());
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return main_throwing(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const Failure& e) {
        fmt::print(stderr, "crash_rebase: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "crash_rebase: {}\n"
                           "usage: crash_rebase [--flushed] [-u] [-c] OVERLAY BACKING FMT N OUT\n"
                           "       crash_rebase count [-u] [-c] OVERLAY BACKING FMT\n",
                   e.what());
        return 2;
    }
}
