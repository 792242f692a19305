// PopulatePages: makes a buffer's memory present before it is first
// written, in one system call instead of one page fault per 4 KiB page.
//
// Why: on the VMs rpfs runs its benchmarks and CI on, a page fault costs
// about 14 us (the hypervisor is involved), so a 4 MiB buffer touched page
// by page costs 14 ms of CPU. MADV_POPULATE_WRITE maps it in ~0.6 us a
// page; the first write to each page still costs ~5 us there, so the
// cheapest page is one already used: reuse buffers, touch no more than
// needed, and populate the big ones a bulk job fills as it starts (an
// import's batches, a segment's write buffer).
#pragma once

#include <cstddef>

namespace rpfs::journal {

// Populates the whole pages inside [p, p + n) for writing. Best effort: a
// kernel without MADV_POPULATE_WRITE (before 5.14) leaves them to fault
// in as usual; the memory's contents are never changed.
void PopulatePages(void* p, size_t n);

}  // namespace rpfs::journal
