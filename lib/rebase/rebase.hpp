// imgmend's rebase: move a qcow2 overlay onto a new backing file (or none)
// without changing what the guest reads.
#pragma once

#include "formats/probe.hpp"
#include "io/block_device.hpp"
#include "io/lock.hpp"
#include "util/result.hpp"

#include <functional>
#include <optional>
#include <string>

namespace imgmend::rebase {

using util::Result;

enum class Mode { safe, unsafe };
enum class Compress { no, yes };

struct RebaseOptions {
    std::string backing;                     // as it will be stored; "" flattens
    std::optional<formats::Format> backing_format;
    Mode mode = Mode::safe;
    Compress compress = Compress::no;
    io::LockMode backing_lock = io::LockMode::shared_read;
    std::function<void(uint64_t done, uint64_t total)> progress;
};

struct RebaseStats {
    uint64_t bytes_compared = 0;
    uint64_t bytes_skipped_in_chain = 0; // not read: the new backing is in the old chain
    uint64_t subclusters_written = 0;
    uint64_t zero_subclusters = 0;
    uint64_t clusters_allocated = 0;
    uint64_t compressed_clusters = 0;
};

// Rebases the overlay at `path`, which the caller opened for writing.
Result<RebaseStats> rebase_overlay(const std::string& path, io::DevicePtr overlay, const RebaseOptions& options);

} // namespace imgmend::rebase
