// A repair as a list of steps computed before anything is written, so a dry
// run can print exactly what would happen and an undo file can save every
// region first. Flush steps mark the points the crash-safety argument needs:
// everything before a flush is on disk before anything after it is written.
#pragma once

#include "io/block_device.hpp"

#include <string>
#include <vector>

namespace imgmend::io {

using util::Result;

struct Step {
    enum class Kind { write, flush, discard };
    Kind kind;
    uint64_t offset = 0;
    std::vector<uint8_t> data; // write
    uint64_t length = 0;       // discard
    std::string what;
};

class Plan {
public:
    void write(uint64_t offset, std::vector<uint8_t> data, std::string what);
    void flush(std::string what);
    void discard(uint64_t offset, uint64_t length, std::string what);

    const std::vector<Step>& steps() const { return steps_; }
    bool empty() const { return steps_.empty(); }
    size_t writes() const;
    // The size the file has once every write is done (never smaller).
    uint64_t final_size(uint64_t current_size) const;

private:
    std::vector<Step> steps_;
};

enum class Flush { yes, no };

// Runs the steps in order. With an undo device, the old bytes of every
// region a step changes (and the original size) are saved there and
// flushed before the first change.
Result<void> execute(const Plan& plan, io::BlockDevice& image, io::BlockDevice* undo);

// Restores an image from an undo file written by execute().
Result<void> apply_undo(io::BlockDevice& undo, io::BlockDevice& image);

} // namespace imgmend::io
