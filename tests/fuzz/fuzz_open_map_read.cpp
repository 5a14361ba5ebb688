// libFuzzer harness: the input is an untrusted image file. It is opened as
// qcow2 (with its snapshot table and bitmap directory), mapped run by run
// as imgmend-map maps it, every data run is read, and the same bytes go
// through the raw path. Any input must give results or errors: a crash, a
// sanitizer report, a hang, a huge allocation, or a broken block-status
// contract (checked below) is a library bug.
#include "formats/probe.hpp"
#include "formats/qcow2_layer.hpp"
#include "formats/raw_layer.hpp"
#include "io/memory_device.hpp"
#include "map/joint.hpp"
#include "map/map.hpp"
#include "map/totals.hpp"
#include "qcow2/bitmap.hpp"
#include "qcow2/snapshot.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

using namespace imgmend;
using util::Result;

namespace {

// A map of a huge image is a long but legitimate walk (a 4 TiB image of
// alternating 512-byte clusters is 2^33 runs), so one walk maps at most
// this many runs. Each status call must cover at least one byte (checked),
// so the cap bounds the walk without hiding a library call that never
// returns: that still trips libFuzzer's -timeout.
constexpr uint64_t max_status_calls = 4096;
// A 64 KiB input holds at most 8192 L1 entries; past them the L1 table
// reads as zeros, so a qcow2 map walks the guest range of this many L1
// entries from the start, then the last few before the end of the disk.
// Walking the zeros in between would only repeat the same empty-L1 scan
// (one step per L1 entry) millions of times per input.
constexpr uint64_t walked_l1_entries = 16384;
constexpr uint64_t walked_tail_l1_entries = 4;
// Reads per input, and the piece read at each end of a long data run.
constexpr uint64_t max_read_bytes = 4ull << 20;
constexpr uint64_t read_piece_bytes = 64ull << 10;
constexpr size_t max_bitmaps_read = 64;

[[noreturn]] void contract_violation(const char* what, uint64_t offset)
{
    std::fprintf(stderr, "fuzz_open_map_read: %s at guest offset %#llx\n", what,
                 static_cast<unsigned long long>(offset));
    std::abort();
}

// The input as a sparse host file: 4 KiB blocks of zeros are holes. Over a
// MemoryDevice, which stores every byte, qemu's metadata-preallocation
// heuristic can never fire, so Qcow2Layer's hole handling would be dead.
class SparseDevice final : public io::BlockDevice {
public:
    static constexpr uint64_t block = 4096;

    explicit SparseDevice(std::span<const uint8_t> bytes) : bytes_(bytes.begin(), bytes.end())
    {
        for (uint64_t at = 0; at < bytes_.size(); at += block) {
            auto first = bytes_.begin() + static_cast<ptrdiff_t>(at);
            auto last = bytes_.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(at + block, bytes_.size()));
            data_blocks_.push_back(std::any_of(first, last, [](uint8_t b) { return b != 0; }));
        }
    }

    const std::string& name() const override { return name_; }
    uint64_t size() const override { return bytes_.size(); }
    Result<void> read(uint64_t offset, std::span<uint8_t> out) override
    {
        if (offset > bytes_.size() || out.size() > bytes_.size() - offset)
            return util::fail(util::Errc::truncated, "read beyond the end of the sparse fuzz device");
        std::copy_n(bytes_.begin() + static_cast<ptrdiff_t>(offset), out.size(), out.begin());
        return {};
    }
    Result<void> write(uint64_t, std::span<const uint8_t>) override { return read_only(); }
    Result<void> flush() override { return read_only(); }
    bool can_resize() const override { return false; }
    Result<void> resize(uint64_t) override { return read_only(); }
    Result<void> discard(uint64_t, uint64_t) override { return read_only(); }
    Result<io::AllocationRun> allocation_at(uint64_t offset) override
    {
        if (offset >= bytes_.size())
            return io::AllocationRun{io::Allocation::hole, 0};
        uint64_t index = offset / block;
        bool data = data_blocks_[index];
        while (index < data_blocks_.size() && data_blocks_[index] == data)
            ++index;
        uint64_t end = std::min<uint64_t>(index * block, bytes_.size());
        return io::AllocationRun{data ? io::Allocation::data : io::Allocation::hole, end - offset};
    }
    uint64_t allocated_bytes() const override
    {
        return static_cast<uint64_t>(std::count(data_blocks_.begin(), data_blocks_.end(), true)) * block;
    }

private:
    static Result<void> read_only() { return util::fail(util::Errc::io, "the sparse fuzz device is read-only"); }

    std::string name_ = "fuzz-sparse";
    std::vector<uint8_t> bytes_;
    std::vector<bool> data_blocks_;
};

// Reads [pos, pos + want) of a data run through a fresh status call, as
// Chain::read does. Part of a run must report the run's status in full,
// and data with a host offset must read as the host bytes there.
void read_piece(formats::Layer& layer, uint64_t pos, uint64_t want, const formats::LayerStatus& run,
                uint64_t& budget)
{
    if (want > budget)
        return;
    budget -= want;
    auto s = layer.status(pos, want);
    if (!s)
        return;
    if (s->length != want || s->data != run.data || s->zero != run.zero || s->compressed != run.compressed)
        contract_violation("part of a run reports a different status than the run", pos);
    std::vector<uint8_t> got(want);
    if (!layer.read(pos, *s, got))
        return;
    if (s->compressed || !s->offset || !s->file)
        return;
    std::vector<uint8_t> expected(want);
    if (!s->file->read_zero_padded(*s->offset, expected))
        return;
    if (got != expected)
        contract_violation("data read differs from the host bytes at its offset", pos);
}

// Walks [start, end) of the guest range as map_chain walks a one-image
// chain (formats::Chain cannot be built from a layer, so the harness does
// what Chain::status does for the last layer), merges runs with
// map::can_merge, totals them, and reads the head and tail of every data
// run.
void walk(formats::Layer& layer, uint64_t start, uint64_t end)
{
    uint64_t budget = max_read_bytes;
    std::optional<map::MapEntry> pending;
    map::Totals totals;
    unsigned flags = 0;
    auto finish = [&](const map::MapEntry& e) {
        totals.add(e);
        flags |= map::joint_flags(e);
    };
    for (uint64_t pos = start, calls = 0; pos < end && calls < max_status_calls; ++calls) {
        auto s = layer.status(pos, end - pos);
        if (!s)
            return;
        if (s->length == 0)
            contract_violation("status returned an empty run (map would never finish)", pos);
        if (s->length > end - pos)
            contract_violation("status returned a run longer than asked", pos);
        map::MapEntry e;
        e.start = pos;
        e.length = s->length;
        e.present = s->allocated();
        e.zero = s->allocated() ? s->zero : true; // unallocated in the last layer: zeros
        e.data = s->data;
        e.compressed = s->compressed;
        e.offset = s->offset;
        if (s->offset && s->file)
            e.filename = s->file->name();
        if (s->data) {
            uint64_t head = std::min(s->length, read_piece_bytes);
            read_piece(layer, pos, head, *s, budget);
            if (s->length > head)
                read_piece(layer, pos + s->length - head, head, *s, budget);
        }
        if (pending && map::can_merge(*pending, e)) {
            pending->length += e.length;
        } else {
            if (pending)
                finish(*pending);
            pending = std::move(e);
        }
        pos += s->length;
    }
    if (pending)
        finish(*pending);
    (void)totals.fragmentation_percent();
    (void)map::joint_words(flags);
}

// Walks the head of a qcow2 disk and its tail (see walked_l1_entries).
void walk_qcow2(formats::Qcow2Layer& layer)
{
    uint64_t size = layer.size();
    uint64_t per_l1 = layer.image().geometry().bytes_per_l2();
    uint64_t head = std::min(size, per_l1 * walked_l1_entries); // at most 2^39 * 2^14
    walk(layer, 0, head);
    uint64_t tail = std::min(size - head, per_l1 * walked_tail_l1_entries);
    if (tail > 0)
        walk(layer, size - tail, size);
}

// The structures Image::open does not read itself.
void read_side_tables(qcow2::Image& image)
{
    io::BlockDevice& file = image.file();
    if (image.header().nb_snapshots > 0)
        (void)qcow2::read_snapshot_table(file, image.header());
    if (const auto& bitmaps = image.extensions().bitmaps) {
        auto directory = qcow2::read_bitmap_directory(file, *bitmaps);
        if (!directory)
            return;
        for (size_t i = 0; i < std::min(directory->size(), max_bitmaps_read); ++i)
            (void)qcow2::read_bitmap_table(file, (*directory)[i]);
    }
}

void fuzz_qcow2(std::span<const uint8_t> input)
{
    auto file = std::make_shared<io::MemoryDevice>(std::vector<uint8_t>(input.begin(), input.end()), "fuzz.qcow2");
    auto image = qcow2::Image::open(file);
    if (!image)
        return;
    // The input doubles as its own external data file.
    if ((*image)->needs_data_file())
        (*image)->set_data_file(file);
    read_side_tables(**image);
    formats::Qcow2Layer layer(std::move(*image));
    walk_qcow2(layer);
}

// The metadata-preallocated path: only when the heuristic fires, so most
// inputs are mapped once.
void fuzz_qcow2_sparse(std::span<const uint8_t> input)
{
    auto file = std::make_shared<SparseDevice>(input);
    auto image = qcow2::Image::open(file);
    if (!image)
        return;
    auto preallocated = formats::detect_metadata_preallocation(**image);
    if (!preallocated || !*preallocated)
        return;
    if ((*image)->needs_data_file())
        (*image)->set_data_file(file);
    formats::Qcow2Layer layer(std::move(*image));
    walk_qcow2(layer);
}

void fuzz_raw(std::span<const uint8_t> input)
{
    auto file = std::make_shared<io::MemoryDevice>(std::vector<uint8_t>(input.begin(), input.end()), "fuzz.raw");
    (void)formats::probe_format(*file);
    formats::RawLayer layer(file);
    walk(layer, 0, layer.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::span<const uint8_t> input(data, size);
    fuzz_qcow2(input);
    fuzz_qcow2_sparse(input);
    fuzz_raw(input);
    return 0;
}
