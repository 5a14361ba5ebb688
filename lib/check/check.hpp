// imgmend's qcow2 consistency check: the same verdicts as qemu-img check
// (corruptions, leaks, check errors, the fragmentation figures), each
// finding located and explained, plus warnings qemu-img stays silent about.
#pragma once

#include "check/report.hpp"
#include "qcow2/image.hpp"

#include <functional>
#include <string_view>

namespace imgmend::check {

using util::Result;

enum class VerifyCompressed { no, yes };

struct CheckOptions {
    VerifyCompressed verify_compressed = VerifyCompressed::no;
    std::function<void(uint64_t done, uint64_t total, std::string_view phase)> progress;
};

// Checks an opened image (read-only; never writes). Only what stops the
// check itself is an error; inconsistencies are findings in the report.
Result<CheckReport> check_qcow2(qcow2::Image& image, const CheckOptions& options = {});

} // namespace imgmend::check
