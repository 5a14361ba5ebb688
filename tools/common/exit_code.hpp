// Exit codes of every imgmend tool, as qemu-img check defines them.
#pragma once

namespace imgmend::tools {

enum class ExitCode : int {
    ok = 0,               // success; check: the image is consistent
    failed = 1,           // an error stopped the work (check: not completed)
    corruptions = 2,      // check: corruptions found
    leaks = 3,            // check: only leaks found
    usage = 1,            // bad command line (qemu-img exits 1 too)
    no_check = 63,        // the format has no consistency check (raw)
};

inline int to_int(ExitCode code) { return static_cast<int>(code); }

} // namespace imgmend::tools
