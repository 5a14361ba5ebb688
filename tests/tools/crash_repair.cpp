// Test helper: runs a repair on an in-memory copy of an image and stops it
// the way a crash would, so integration scenarios can hand every
// intermediate state to qemu-img.
//
//   crash_repair [--flushed] leaks|all IMAGE N OUT
//       plans the repair, executes it on a MemoryDevice that crashes after
//       N device writes (every later write and flush fails), then writes
//       what the device holds to OUT: every write that happened (default),
//       or with --flushed only what the last successful flush made durable
//       (what survives a power cut).
//   crash_repair count leaks|all IMAGE
//       prints how many device writes the whole repair does (discards are
//       device writes too on a MemoryDevice), so a scenario can loop N from
//       0 to that number.
//
// Exit codes: 0 done (also when the crash stopped the repair, as expected),
// 1 error, 2 usage.
#include "image_file.hpp"
#include "io/memory_device.hpp"
#include "io/write_plan.hpp"
#include "qcow2/image.hpp"
#include "repair/repair.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace imgmend;

namespace {

// Failures of this tool: the file helpers' and its own.
using Failure = test::ImageFileError;
using test::load_file;
using test::save_file;

repair::RepairMode parse_mode(const std::string& s)
{
    if (s == "leaks")
        return repair::RepairMode::leaks;
    if (s == "all")
        return repair::RepairMode::all;
    throw std::invalid_argument(fmt::format("mode must be leaks or all, not '{}'", s));
}

// Plans the repair of `dev`'s image and executes it on `dev` (which the
// caller may have set up to crash). Returns whether execute completed.
bool run_repair(const std::shared_ptr<io::MemoryDevice>& dev, repair::RepairMode mode)
{
    auto image = qcow2::Image::open(dev);
    if (!image)
        throw Failure(fmt::format("open: {}", image.error().message));
    auto outcome = repair::plan_repair(**image, mode);
    if (!outcome)
        throw Failure(fmt::format("plan: {}", outcome.error().message));
    return io::execute(outcome->plan, *dev, nullptr).has_value();
}

int main_throwing(std::vector<std::string> args)
{
    if (!args.empty() && args[0] == "count") {
        if (args.size() != 3)
            throw std::invalid_argument("count takes leaks|all IMAGE");
        auto dev = std::make_shared<io::MemoryDevice>(load_file(args[2]));
        if (!run_repair(dev, parse_mode(args[1])))
            throw Failure("the repair failed without any crash injected");
        fmt::print("{}\n", dev->writes().size());
        return 0;
    }
    bool flushed = false;
    if (!args.empty() && args[0] == "--flushed") {
        flushed = true;
        args.erase(args.begin());
    }
    if (args.size() != 4)
        throw std::invalid_argument("expected leaks|all IMAGE N OUT");
    size_t n = std::stoul(args[2]);
    auto dev = std::make_shared<io::MemoryDevice>(load_file(args[1]));
    dev->crash_after_write(n);
    bool completed = run_repair(dev, parse_mode(args[0]));
    // The crash must have stopped the repair at exactly N writes (or the
    // repair needs fewer, and then it completed).
    if (!completed && dev->writes().size() != n)
        throw Failure(fmt::format("the repair stopped after {} writes, not at the crash after {}",
                                  dev->writes().size(), n));
    save_file(args[3], flushed ? dev->flushed_bytes() : dev->bytes());
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return main_throwing(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const Failure& e) {
        fmt::print(stderr, "crash_repair: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "crash_repair: {}\n"
                           "usage: crash_repair [--flushed] leaks|all IMAGE N OUT\n"
                           "       crash_repair count leaks|all IMAGE\n",
                   e.what());
        return 2;
    }
}
