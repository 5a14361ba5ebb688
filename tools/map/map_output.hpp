// The map's output formats: qemu-img's human table and JSON lines, the
// joint-allocation view, and the totals summary.
#pragma once

#include "map/map.hpp"
#include "map/totals.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <string>

namespace imgmend::tools {

enum class MapFormat { human, json, joint, svg };

class MapPrinter {
public:
    MapPrinter(MapFormat format, std::FILE* out) : format_(format), out_(out) {}
    ~MapPrinter() { flush(); }
    void begin();
    // Fails (for human output) on data without a host offset, as qemu-img.
    util::Result<void> entry(const map::MapEntry& e);
    void end();
    void flush();

private:
    MapFormat format_;
    std::FILE* out_;
    fmt::memory_buffer buffer_;
    bool first_ = true;
};

void print_totals(MapFormat format, const map::Totals& totals, std::FILE* out);

} // namespace imgmend::tools
