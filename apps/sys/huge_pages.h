// Transparent huge pages for the engine's heap.
//
// A run holds its state in millions of small allocations (per-key records,
// sliding buffers). On kernels whose transparent huge pages are in
// "madvise" mode (Debian's default), glibc's malloc only uses them when the
// glibc.malloc.hugetlb=1 tunable is set, and tunables are read at process
// start. Measured here: restoring 1,000,000 keys went from 6.4 s to 3.5 s
// and page faults dropped by half. So `run`, `replay` and `state` re-execute
// the binary once with the tunable added (same pid, same arguments).
// VIGIL_NO_HUGE_PAGES=1 turns this off.
#pragma once

namespace vigil::cli {

// Returns only when no re-execution happened (already set, disabled, or
// execv failed: then vigil simply runs without huge pages).
void ReexecWithHugePages(int argc, char** argv);

}  // namespace vigil::cli
