// The checks of a sparse extent that need all its grain tables at once,
// run before any data is read: every allocated grain lies outside the
// metadata (header, embedded descriptor, both directories, the tables in
// use, markers and footer) and apart from every other grain; compressed
// grains have a marker naming their own sector and data inside the file,
// and follow each other in disk order (a streamOptimized extent is written
// front to back, which is what lets us check them with O(1) memory).
#pragma once

#include "fs/vmdk/byte_source.h"
#include "fs/vmdk/grain_directory.h"
#include "fs/vmdk/sparse_extent_header.h"

namespace rpfs::fs {

// `gd` is the directory to read through; `other` the other copy, if any
// (its table is metadata too). Returns the first problem, one line.
Status CheckSparseExtent(const ByteSource& src, const SparseHeader& h, const GrainDirectory& gd,
                         const GrainDirectory* other);

}  // namespace rpfs::fs
