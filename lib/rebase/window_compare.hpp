// One window of guest space in a safe rebase: which of the overlay's
// unallocated subclusters read differently through the old chain and the
// new backing, found with as few reads as the chains' block status allows,
// and handed to the OverlayWriter from one buffer it writes from directly.
#pragma once

#include "formats/chain.hpp"
#include "qcow2/image.hpp"
#include "rebase/overlay_writer.hpp"
#include "rebase/rebase.hpp"

#include <cstddef>
#include <new>
#include <memory>
#include <vector>

namespace imgmend::rebase {

// The two sides of the comparison.
struct Sides {
    formats::Chain* old_chain = nullptr; // null: the overlay has no backing (reads zeros)
    formats::Chain* new_chain = nullptr; // null: flattening (reads zeros)
    // Depth in the old chain of the new backing's top image, when the new
    // backing is part of the old chain; what the old chain answers from
    // there or below reads the same on both sides.
    size_t in_chain = SIZE_MAX;
};

class WindowCompare {
public:
    // A multiple of every cluster size (at most 2 MiB), and the largest read.
    static constexpr uint64_t window_bytes = uint64_t{4} << 20;

    WindowCompare(qcow2::Image& image, Sides sides, OverlayWriter& writer, Compress compress, RebaseStats& stats);

    // Compares and writes the window at `start` (a multiple of window_bytes).
    // Data writes from mappings may stay pending in the writer.
    Result<void> run(uint64_t start);

private:
    // Per-subcluster facts about the window.
    enum Flag : uint8_t {
        unallocated = 1, // in the overlay: the old and new sides show through
        same = 2,        // the old chain answers from the new backing or below
        old_zero = 4,    // the old chain reads zeros, known without reading
        new_zero = 8,    // the new backing reads zeros, known without reading
    };
    // One run of a side's block status, window-relative. Once loaded,
    // `bytes` holds [loaded_from, to) or less (mapped, or read into the
    // side's buffer); nullptr for zeros.
    struct Piece {
        uint64_t from;
        uint64_t to;
        formats::ChainStatus status;
        const uint8_t* bytes = nullptr;
        uint64_t loaded_from = 0;
        std::shared_ptr<io::Mapping> mapping; // where bytes points, if mapped
    };
    struct Side {
        formats::Chain* chain;
        uint8_t zero_flag;
        uint8_t* buf; // where pieces that cannot be mapped are read
        std::vector<Piece> pieces;
        size_t cursor = 0;
    };
    static constexpr std::align_val_t buffer_alignment{4096}; // O_DIRECT's
    struct AlignedDelete {
        void operator()(uint8_t* p) const { ::operator delete[](p, buffer_alignment); }
    };

    Result<void> classify(Side& side, size_t first, size_t last, bool track_same);
    void clear(uint64_t from, uint64_t to, uint8_t flag);
    bool needs(const Side& side, size_t index) const;
    Result<void> load(Side& side);
    const Piece* old_piece_holding(uint64_t from, uint64_t to) const;
    const uint8_t* locate(Side& side, uint64_t pos, uint64_t& end);
    bool differs(size_t index, bool& old_reads_zero);
    void fill_old(size_t index);
    Result<void> decide_cluster(size_t cluster);

    qcow2::Image& image_;
    const qcow2::Geometry& g_;
    Sides sides_;
    OverlayWriter& writer_;
    Compress compress_;
    RebaseStats& stats_;
    const bool zero_clusters_;
    uint64_t start_ = 0; // guest offset of the current window
    size_t count_ = 0;   // subclusters in the current window
    std::vector<uint8_t> flags_;
    // Aligned for O_DIRECT; old_buf_ is also what the writer writes from.
    std::unique_ptr<uint8_t[], AlignedDelete> old_buf_;
    std::unique_ptr<uint8_t[], AlignedDelete> new_buf_;
    Side old_;
    Side new_;
    bool wrote_from_buffer_ = false; // pending writes point into old_buf_
    const io::Mapping* last_kept_ = nullptr; // the last mapping handed to the writer
    uint64_t kept_bytes_ = 0;                // mapped bytes the writer may keep alive
};

} // namespace imgmend::rebase
