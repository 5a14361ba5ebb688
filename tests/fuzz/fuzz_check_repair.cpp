// libFuzzer harness: the input is an untrusted, probably damaged qcow2 image.
// It is checked (compressed clusters decoded too), its `-r all` repair is
// planned and carried out on a copy in memory, and the repaired copy is
// opened and checked again. Any input must give results or errors: a crash,
// a sanitizer report, a hang or a huge allocation is a library bug. And a
// repair must never cost data: where the guest disk read before the repair,
// it reads the same after it (checked over the first few MiB), and an image
// that opened before still opens.
#include "check/check.hpp"
#include "formats/qcow2_layer.hpp"
#include "io/memory_device.hpp"
#include "repair/repair.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <vector>

using namespace imgmend;

namespace {

// The guest range compared before and after, in pieces read independently
// (a piece that cannot be read on either side is not compared).
constexpr uint64_t compared_bytes = 4ull << 20;
constexpr uint64_t piece_bytes = 64ull << 10;

[[noreturn]] void contract_violation(const char* what, uint64_t offset)
{
    std::fprintf(stderr, "fuzz_check_repair: %s at %#llx\n", what, static_cast<unsigned long long>(offset));
    std::abort();
}

// The head of the guest disk, piece by piece; an unreadable piece is empty.
std::vector<std::optional<std::vector<uint8_t>>> read_guest(std::unique_ptr<qcow2::Image> image)
{
    formats::Qcow2Layer layer(std::move(image));
    std::vector<std::optional<std::vector<uint8_t>>> pieces;
    uint64_t end = std::min(layer.size(), compared_bytes);
    for (uint64_t pos = 0; pos < end; pos += piece_bytes) {
        uint64_t want = std::min(piece_bytes, end - pos);
        std::vector<uint8_t> bytes(want);
        bool ok = true;
        // Run by run, as a reader of the whole chain does.
        for (uint64_t at = pos; ok && at < pos + want;) {
            auto s = layer.status(at, pos + want - at);
            if (!s || s->length == 0) {
                ok = false;
                break;
            }
            std::span<uint8_t> out(bytes.data() + (at - pos), s->length);
            if (!s->allocated() || s->zero)
                std::fill(out.begin(), out.end(), 0);
            else
                ok = layer.read(at, *s, out).has_value();
            at += s->length;
        }
        pieces.push_back(ok ? std::optional(std::move(bytes)) : std::nullopt);
    }
    return pieces;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::vector<uint8_t> bytes(data, data + size);
    auto original = std::make_shared<io::MemoryDevice>(bytes, "fuzz.qcow2");
    auto image = qcow2::Image::open(original);
    if (!image)
        return 0;
    check::CheckOptions options;
    options.verify_compressed = check::VerifyCompressed::yes;
    (void)check::check_qcow2(**image, options);
    // An external data file would be the input itself, which the repair
    // rewrites: its guest data may change, so compare only without one.
    bool compare_data = !(*image)->needs_data_file() && (*image)->header().crypt_method == qcow2::CryptMethod::none;

    auto copy = std::make_shared<io::MemoryDevice>(bytes, "fuzz-repaired.qcow2");
    auto to_repair = qcow2::Image::open(copy);
    if (!to_repair)
        contract_violation("the same bytes opened once and not twice", 0);
    auto outcome = repair::plan_repair(**to_repair, repair::RepairMode::all);
    if (!outcome || outcome->plan.empty())
        return 0;
    if (!io::execute(outcome->plan, *copy, nullptr))
        return 0; // a write past a size cap, say: refused, not a bug
    auto repaired = qcow2::Image::open(copy);
    if (!repaired)
        contract_violation("the repaired image no longer opens", 0);
    (void)check::check_qcow2(**repaired);
    if (!compare_data)
        return 0;
    auto before = read_guest(std::move(*image));
    auto after = read_guest(std::move(*repaired));
    for (size_t i = 0; i < std::min(before.size(), after.size()); ++i)
        if (before[i] && after[i] && *before[i] != *after[i])
            contract_violation("the repair changed guest data", i * piece_bytes);
    return 0;
}
