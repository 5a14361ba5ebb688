// Test helper: damages qcow2 images in place, and prints where things are.
// Every offset is computed by parsing the header and tables through the
// library (qcow2::Image, the refcount reader, the snapshot and bitmap
// readers); nothing is hard-coded but the header field layout of the spec.
//
//   poke [--hex] IMG header FIELD MOD
//   poke [--hex] IMG l1 INDEX MOD
//   poke [--hex] IMG l2 GUEST_OFFSET MOD
//   poke [--hex] IMG l2-bitmap GUEST_OFFSET MOD       (extended L2 only)
//   poke [--hex] IMG refcount CLUSTER_INDEX MOD       (any refcount width)
//   poke [--hex] IMG reftable INDEX MOD
//   poke [--hex] IMG snapshot N FIELD MOD             (N counts from 0)
//   poke [--hex] IMG snapshot-l1 N INDEX MOD
//   poke [--hex] IMG bitmap N FIELD MOD               (directory entry field)
//   poke [--hex] IMG bitmap-entry N INDEX MOD         (bitmap table entry)
//   poke [--hex] IMG get WHAT ...                     (read-only, prints a number)
//
// MOD is VALUE, or --or BITS, or --and-not BITS. Numbers are decimal or 0x hex.
// `get` takes the same locators: header FIELD, l1 INDEX, l2 GUEST, l2-bitmap
// GUEST, refcount CLUSTER, reftable INDEX, snapshot N FIELD, snapshot-l1 N
// INDEX, bitmap N FIELD, bitmap-entry N INDEX, and also:
//   host GUEST             host offset of a data cluster (compressed: the
//                          stream offset; 0 when unallocated)
//   l2-table-offset GUEST  offset of the L2 table mapping GUEST (0 if none)
//   l2-entry-offset GUEST  file offset of GUEST's L2 entry
//   refblock CLUSTER       offset of the refcount block covering CLUSTER
//   cluster-size, l2-entries, refblock-entries, file-size, clusters
// With --hex numbers print as 0x...; otherwise decimal.
// Exit codes: 0 done, 1 error, 2 usage.
#include "io/file_device.hpp"
#include "qcow2/bitmap.hpp"
#include "qcow2/image.hpp"
#include "qcow2/snapshot.hpp"
#include "refcount/refcount_block.hpp"
#include "refcount/refcount_reader.hpp"
#include "util/cursor.hpp"

#include <boost/endian/conversion.hpp>
#include <cstdlib>
#include <fmt/format.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace imgmend;

namespace {

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Usage : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename T>
T must(util::Result<T> r)
{
    if (!r)
        throw Failure(r.error().message);
    return std::move(r).value();
}
void must(util::Result<void> r)
{
    if (!r)
        throw Failure(r.error().message);
}

uint64_t parse_number(const std::string& s)
{
    if (s.empty())
        throw Usage("empty number");
    size_t used = 0;
    uint64_t v = 0;
    try {
        v = std::stoull(s, &used, 0); // 0x.. hex, 0.. octal, else decimal
    } catch (const std::exception&) {
        throw Usage(fmt::format("not a number: '{}'", s));
    }
    if (used != s.size() || s[0] == '-')
        throw Usage(fmt::format("not a number: '{}'", s));
    return v;
}

// A big-endian unsigned field of 1, 2, 4 or 8 bytes at a file offset.
struct Field {
    uint64_t offset;
    unsigned bytes;
};

struct Modification {
    enum { set, set_bits, clear_bits } op;
    uint64_t value;

    uint64_t apply(uint64_t old) const
    {
        switch (op) {
        case set: return value;
        case set_bits: return old | value;
        default: return old & ~value;
        }
    }
};

class Poke {
public:
    Poke(const std::string& path, bool writable, bool hex) : hex_(hex)
    {
        dev_ = must(io::FileDevice::open(path, writable ? io::Access::read_write : io::Access::read_only,
                                         io::LockMode::none));
        std::vector<uint8_t> first(std::min<uint64_t>(dev_->size(), 4096));
        must(dev_->read(0, first));
        auto parsed = qcow2::parse_header(first);
        if (parsed) {
            header_ = *parsed;
        } else {
            // A header we damaged on purpose: read the fields without the
            // library's validation, so later pokes and gets still work.
            header_ = lenient_header(first);
        }
        if (header_.cluster_bits < 9 || header_.cluster_bits > 30)
            throw Failure(fmt::format("cluster_bits {} is unusable", header_.cluster_bits));
        if (header_.refcount_order > 6)
            throw Failure(fmt::format("refcount_order {} is unusable", header_.refcount_order));
        geometry_ = qcow2::make_geometry(header_);
        if (parsed) {
            auto img = qcow2::Image::open(dev_);
            if (img)
                image_ = std::move(*img);
            else
                image_error_ = img.error().message;
        } else {
            image_error_ = parsed.error().message;
        }
    }

    uint64_t read_field(Field f)
    {
        std::vector<uint8_t> b(f.bytes);
        must(dev_->read_zero_padded(f.offset, b));
        switch (f.bytes) {
        case 1: return b[0];
        case 2: return boost::endian::load_big_u16(b.data());
        case 4: return boost::endian::load_big_u32(b.data());
        default: return boost::endian::load_big_u64(b.data());
        }
    }

    void write_field(Field f, const Modification& m)
    {
        uint64_t old = read_field(f);
        uint64_t v = m.apply(old);
        if (f.bytes < 8 && v >> (8 * f.bytes) != 0)
            throw Failure(fmt::format("value {:#x} does not fit in {} bytes", v, f.bytes));
        std::vector<uint8_t> b(f.bytes);
        switch (f.bytes) {
        case 1: b[0] = static_cast<uint8_t>(v); break;
        case 2: boost::endian::store_big_u16(b.data(), static_cast<uint16_t>(v)); break;
        case 4: boost::endian::store_big_u32(b.data(), static_cast<uint32_t>(v)); break;
        default: boost::endian::store_big_u64(b.data(), v); break;
        }
        must(dev_->write(f.offset, b));
        must(dev_->flush());
    }

    // --- locators --------------------------------------------------------

    Field header_field(const std::string& name) const
    {
        struct Named {
            const char* name;
            uint64_t offset;
            unsigned bytes;
        };
        static const Named fields[] = {
            {"magic", 0, 4},
            {"version", 4, 4},
            {"backing_file_offset", 8, 8},
            {"backing_file_size", 16, 4},
            {"cluster_bits", 20, 4},
            {"size", 24, 8},
            {"crypt_method", 32, 4},
            {"l1_size", 36, 4},
            {"l1_table_offset", 40, 8},
            {"refcount_table_offset", 48, 8},
            {"refcount_table_clusters", 56, 4},
            {"nb_snapshots", 60, 4},
            {"snapshots_offset", 64, 8},
            {"incompatible_features", 72, 8},
            {"compatible_features", 80, 8},
            {"autoclear_features", 88, 8},
            {"refcount_order", 96, 4},
            {"header_length", 100, 4},
            {"compression_type", 104, 1},
        };
        for (const auto& f : fields)
            if (name == f.name)
                return {f.offset, f.bytes};
        std::string known;
        for (const auto& f : fields)
            known += std::string(known.empty() ? "" : ", ") + f.name;
        throw Usage(fmt::format("unknown header field '{}' (known: {})", name, known));
    }

    qcow2::Image& image()
    {
        if (!image_)
            throw Failure(fmt::format("the image does not open: {}", image_error_));
        return *image_;
    }

    Field l1_field(uint64_t index)
    {
        if (index >= header_.l1_size)
            throw Failure(fmt::format("L1 index {} is beyond l1_size {}", index, header_.l1_size));
        return {header_.l1_table_offset + index * 8, 8};
    }

    uint64_t l1_index(uint64_t guest) const { return guest / geometry_.bytes_per_l2(); }
    uint64_t l2_index(uint64_t guest) const { return guest / geometry_.cluster_size % geometry_.l2_entries; }

    uint64_t l2_table_offset(uint64_t guest)
    {
        if (guest >= header_.size)
            throw Failure(fmt::format("guest offset {:#x} is beyond the virtual size {:#x}", guest, header_.size));
        return image().l1_entry(l1_index(guest)) & qcow2::offset_mask;
    }

    qcow2::L2Entry l2_entry(uint64_t guest)
    {
        uint64_t table = l2_table_offset(guest);
        if (table == 0)
            return {};
        const auto* entries = must(image().l2_table(table));
        return (*entries)[l2_index(guest)];
    }

    // The file offset of GUEST's L2 entry (its bitmap word follows at +8).
    uint64_t l2_entry_offset(uint64_t guest)
    {
        uint64_t table = l2_table_offset(guest);
        if (table == 0)
            throw Failure(fmt::format("guest offset {:#x} has no L2 table (L1 entry {} is zero)", guest,
                                      l1_index(guest)));
        return table + l2_index(guest) * geometry_.l2_entry_bytes;
    }

    Field l2_bitmap_field(uint64_t guest)
    {
        if (!header_.extended_l2())
            throw Failure("the image has no extended L2 entries");
        return {l2_entry_offset(guest) + 8, 8};
    }

    std::vector<uint64_t> reftable() { return must(refcount::read_refcount_table(*dev_, header_)); }

    Field reftable_field(uint64_t index)
    {
        uint64_t entries = uint64_t{header_.refcount_table_clusters} * geometry_.cluster_size / 8;
        if (index >= entries)
            throw Failure(fmt::format("reftable index {} is beyond the table ({} entries)", index, entries));
        return {header_.refcount_table_offset + index * 8, 8};
    }

    uint64_t refblock_offset(uint64_t cluster)
    {
        auto table = reftable();
        uint64_t index = cluster / geometry_.refblock_entries;
        if (index >= table.size())
            throw Failure(fmt::format("cluster {} is beyond the refcount table (index {})", cluster, index));
        uint64_t block = table[index] & refcount::reftable_offset_mask;
        if (block == 0)
            throw Failure(fmt::format("cluster {} has no refcount block (reftable entry {} is zero)", cluster,
                                      index));
        return block;
    }

    uint64_t get_refcount(uint64_t cluster)
    {
        refcount::RefcountReader reader(*dev_, geometry_, reftable());
        return must(reader.refcount(cluster));
    }

    void set_refcount(uint64_t cluster, const Modification& m)
    {
        uint64_t block = refblock_offset(cluster);
        std::vector<uint8_t> bytes(geometry_.cluster_size);
        must(dev_->read(block, bytes));
        uint64_t index = cluster % geometry_.refblock_entries;
        uint64_t old = refcount::get_entry(bytes, geometry_.refcount_order, index);
        uint64_t v = m.apply(old);
        if (v > refcount::max_refcount(geometry_.refcount_order))
            throw Failure(fmt::format("refcount {} does not fit in {} bits", v, geometry_.refcount_bits));
        refcount::set_entry(bytes, geometry_.refcount_order, index, v);
        must(dev_->write(block, bytes));
        must(dev_->flush());
    }

    qcow2::Snapshot snapshot(uint64_t n)
    {
        auto table = must(qcow2::read_snapshot_table(*dev_, header_));
        if (n >= table.entries.size())
            throw Failure(fmt::format("no snapshot {} (the image has {})", n, table.entries.size()));
        return table.entries[n];
    }

    Field snapshot_field(uint64_t n, const std::string& name)
    {
        struct Named {
            const char* name;
            uint64_t offset;
            unsigned bytes;
        };
        static const Named fields[] = {
            {"l1_table_offset", 0, 8}, {"l1_size", 8, 4},         {"id_str_size", 12, 2},
            {"name_size", 14, 2},      {"date_sec", 16, 4},       {"date_nsec", 20, 4},
            {"vm_clock_nsec", 24, 8},  {"vm_state_size", 32, 4},  {"extra_data_size", 36, 4},
            {"vm_state_size_large", 40, 8}, {"disk_size", 48, 8},
        };
        for (const auto& f : fields)
            if (name == f.name)
                return {snapshot(n).entry_offset + f.offset, f.bytes};
        throw Usage(fmt::format("unknown snapshot field '{}'", name));
    }

    Field snapshot_l1_field(uint64_t n, uint64_t index)
    {
        auto s = snapshot(n);
        if (index >= s.l1_size)
            throw Failure(fmt::format("snapshot {} L1 index {} is beyond its l1_size {}", n, index, s.l1_size));
        return {s.l1_table_offset + index * 8, 8};
    }

    qcow2::BitmapEntry bitmap(uint64_t n)
    {
        const auto& ext = image().extensions().bitmaps;
        if (!ext)
            throw Failure("the image has no bitmaps extension");
        auto dir = must(qcow2::read_bitmap_directory(*dev_, *ext));
        if (n >= dir.size())
            throw Failure(fmt::format("no bitmap {} (the image has {})", n, dir.size()));
        return dir[n];
    }

    Field bitmap_field(uint64_t n, const std::string& name)
    {
        struct Named {
            const char* name;
            uint64_t offset;
            unsigned bytes;
        };
        static const Named fields[] = {
            {"table_offset", 0, 8}, {"table_size", 8, 4},       {"flags", 12, 4},
            {"type", 16, 1},        {"granularity_bits", 17, 1}, {"name_size", 18, 2},
            {"extra_data_size", 20, 4},
        };
        for (const auto& f : fields)
            if (name == f.name)
                return {bitmap(n).entry_offset + f.offset, f.bytes};
        throw Usage(fmt::format("unknown bitmap field '{}'", name));
    }

    Field bitmap_entry_field(uint64_t n, uint64_t index)
    {
        auto b = bitmap(n);
        if (index >= b.table_size)
            throw Failure(fmt::format("bitmap {} table index {} is beyond its size {}", n, index, b.table_size));
        return {b.table_offset + index * 8, 8};
    }

    void print(uint64_t v) const
    {
        if (hex_)
            fmt::print("{:#x}\n", v);
        else
            fmt::print("{}\n", v);
    }

    const qcow2::Header& header() const { return header_; }
    const qcow2::Geometry& geometry() const { return geometry_; }
    uint64_t file_size() const { return dev_->size(); }

private:
    static qcow2::Header lenient_header(std::span<const uint8_t> bytes)
    {
        util::Cursor c(bytes);
        qcow2::Header h;
        c.be32(); // magic
        h.version = c.be32();
        h.backing_file_offset = c.be64();
        h.backing_file_size = c.be32();
        h.cluster_bits = c.be32();
        h.size = c.be64();
        h.crypt_method = static_cast<qcow2::CryptMethod>(c.be32());
        h.l1_size = c.be32();
        h.l1_table_offset = c.be64();
        h.refcount_table_offset = c.be64();
        h.refcount_table_clusters = c.be32();
        h.nb_snapshots = c.be32();
        h.snapshots_offset = c.be64();
        if (h.version >= 3) {
            h.incompatible_features = c.be64();
            h.compatible_features = c.be64();
            h.autoclear_features = c.be64();
            h.refcount_order = c.be32();
            h.header_length = c.be32();
        }
        if (c.overrun())
            throw Failure("the file is too short for a qcow2 header");
        return h;
    }

    std::shared_ptr<io::FileDevice> dev_;
    qcow2::Header header_;
    qcow2::Geometry geometry_{};
    std::unique_ptr<qcow2::Image> image_;
    std::string image_error_;
    bool hex_;
};

struct Args {
    std::vector<std::string> v;
    size_t pos = 0;

    bool more() const { return pos < v.size(); }
    const std::string& next(const char* what)
    {
        if (!more())
            throw Usage(fmt::format("missing {}", what));
        return v[pos++];
    }
    uint64_t number(const char* what) { return parse_number(next(what)); }
    void done() const
    {
        if (more())
            throw Usage(fmt::format("unexpected argument '{}'", v[pos]));
    }
    Modification modification()
    {
        const std::string& first = next("VALUE, --or BITS or --and-not BITS");
        Modification m{};
        if (first == "--or")
            m = {Modification::set_bits, number("BITS")};
        else if (first == "--and-not")
            m = {Modification::clear_bits, number("BITS")};
        else
            m = {Modification::set, parse_number(first)};
        done();
        return m;
    }
};

// Resolves a locator shared by `get` and the writing commands to a field.
// Returns nullopt for `refcount`, which has no byte-aligned field.
std::optional<Field> locate(Poke& p, const std::string& what, Args& a)
{
    if (what == "header")
        return p.header_field(a.next("FIELD"));
    if (what == "l1")
        return p.l1_field(a.number("INDEX"));
    if (what == "l2")
        return Field{p.l2_entry_offset(a.number("GUEST_OFFSET")), 8};
    if (what == "l2-bitmap")
        return p.l2_bitmap_field(a.number("GUEST_OFFSET"));
    if (what == "reftable")
        return p.reftable_field(a.number("INDEX"));
    if (what == "snapshot") {
        uint64_t n = a.number("N");
        return p.snapshot_field(n, a.next("FIELD"));
    }
    if (what == "snapshot-l1") {
        uint64_t n = a.number("N");
        return p.snapshot_l1_field(n, a.number("INDEX"));
    }
    if (what == "bitmap") {
        uint64_t n = a.number("N");
        return p.bitmap_field(n, a.next("FIELD"));
    }
    if (what == "bitmap-entry") {
        uint64_t n = a.number("N");
        return p.bitmap_entry_field(n, a.number("INDEX"));
    }
    throw Usage(fmt::format("unknown target '{}'", what));
}

void run_get(Poke& p, Args& a)
{
    const std::string what = a.next("WHAT");
    if (what == "l2") {
        // Through the library's L2 decoding; an unmapped L2 table reads 0.
        uint64_t guest = a.number("GUEST_OFFSET");
        a.done();
        p.print(p.l2_entry(guest).raw);
        return;
    }
    if (what == "l2-bitmap") {
        uint64_t guest = a.number("GUEST_OFFSET");
        a.done();
        if (!p.header().extended_l2())
            throw Failure("the image has no extended L2 entries");
        p.print(p.l2_entry(guest).bitmap);
        return;
    }
    if (what == "host") {
        uint64_t guest = a.number("GUEST_OFFSET");
        a.done();
        auto e = p.l2_entry(guest);
        p.print(e.compressed() ? qcow2::compressed_descriptor(p.geometry(), e.raw).offset : e.host_offset());
        return;
    }
    if (what == "l2-table-offset") {
        uint64_t guest = a.number("GUEST_OFFSET");
        a.done();
        p.print(p.l2_table_offset(guest));
        return;
    }
    if (what == "l2-entry-offset") {
        uint64_t guest = a.number("GUEST_OFFSET");
        a.done();
        p.print(p.l2_entry_offset(guest));
        return;
    }
    if (what == "refcount") {
        uint64_t cluster = a.number("CLUSTER_INDEX");
        a.done();
        p.print(p.get_refcount(cluster));
        return;
    }
    if (what == "refblock") {
        uint64_t cluster = a.number("CLUSTER_INDEX");
        a.done();
        p.print(p.refblock_offset(cluster));
        return;
    }
    if (what == "cluster-size" || what == "l2-entries" || what == "refblock-entries" || what == "file-size" ||
        what == "clusters") {
        a.done();
        const auto& g = p.geometry();
        if (what == "cluster-size")
            p.print(g.cluster_size);
        else if (what == "l2-entries")
            p.print(g.l2_entries);
        else if (what == "refblock-entries")
            p.print(g.refblock_entries);
        else if (what == "file-size")
            p.print(p.file_size());
        else
            p.print((p.file_size() + g.cluster_size - 1) / g.cluster_size);
        return;
    }
    if (what == "snapshot" || what == "bitmap") {
        // Also accept the short names the brief uses (table_offset for bitmaps).
        auto f = locate(p, what, a);
        a.done();
        p.print(p.read_field(*f));
        return;
    }
    auto f = locate(p, what, a);
    a.done();
    p.print(p.read_field(*f));
}

void run_poke(Poke& p, const std::string& what, Args& a)
{
    if (what == "refcount") {
        uint64_t cluster = a.number("CLUSTER_INDEX");
        p.set_refcount(cluster, a.modification());
        return;
    }
    auto f = locate(p, what, a);
    p.write_field(*f, a.modification());
}

constexpr const char* usage_text =
    "usage: poke [--hex] IMG TARGET LOCATOR... (VALUE | --or BITS | --and-not BITS)\n"
    "       poke [--hex] IMG get WHAT LOCATOR...\n"
    "targets: header FIELD | l1 INDEX | l2 GUEST | l2-bitmap GUEST | refcount CLUSTER |\n"
    "         reftable INDEX | snapshot N FIELD | snapshot-l1 N INDEX | bitmap N FIELD |\n"
    "         bitmap-entry N INDEX\n"
    "get also: host GUEST | l2-table-offset GUEST | l2-entry-offset GUEST | refblock CLUSTER |\n"
    "          cluster-size | l2-entries | refblock-entries | file-size | clusters\n";

} // namespace

int main(int argc, char** argv)
{
    Args a;
    for (int i = 1; i < argc; ++i)
        a.v.emplace_back(argv[i]);
    bool hex = false;
    if (a.more() && a.v[0] == "--hex") {
        hex = true;
        a.pos = 1;
    }
    try {
        const std::string path = a.next("IMG");
        const std::string what = a.next("TARGET");
        bool is_get = what == "get";
        Poke p(path, !is_get, hex);
        if (is_get)
            run_get(p, a);
        else
            run_poke(p, what, a);
    } catch (const Usage& e) {
        fmt::print(stderr, "poke: {}\n{}", e.what(), usage_text);
        return 2;
    } catch (const Failure& e) {
        fmt::print(stderr, "poke: {}\n", e.what());
        return 1;
    }
    return 0;
}
