#include "io/table_editor.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace imgmend::io {

namespace {
constexpr uint64_t sector = 512;
}

Result<std::vector<uint8_t>*> TableEditor::table(uint64_t offset, uint64_t size)
{
    auto it = tables_.find(offset);
    if (it != tables_.end())
        return &it->second.current;
    Edited e;
    e.original.resize(size);
    TRY(dev_.read_zero_padded(offset, e.original));
    e.current = e.original;
    return &tables_.emplace(offset, std::move(e)).first->second.current;
}

void TableEditor::emit(Plan& plan, const std::string& what)
{
    for (auto& [offset, e] : tables_) {
        // Tables are cluster aligned, so sectors of the table are sectors of the disk.
        for (uint64_t at = 0; at < e.current.size(); at += sector) {
            uint64_t n = std::min<uint64_t>(sector, e.current.size() - at);
            if (std::equal(e.current.begin() + static_cast<ptrdiff_t>(at),
                           e.current.begin() + static_cast<ptrdiff_t>(at + n),
                           e.original.begin() + static_cast<ptrdiff_t>(at)))
                continue;
            plan.write(offset + at,
                       std::vector<uint8_t>(e.current.begin() + static_cast<ptrdiff_t>(at),
                                            e.current.begin() + static_cast<ptrdiff_t>(at + n)),
                       fmt::format("{} at {:#x}", what, offset));
        }
        e.original = e.current;
    }
}

} // namespace imgmend::io
