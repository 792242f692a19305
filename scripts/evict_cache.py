#!/usr/bin/env python3
"""Evict files from the page cache, for cold-read benchmarks.

usage: evict_cache.py [--drop-caches] FILE...

Each FILE is fsynced (POSIX_FADV_DONTNEED leaves dirty pages in the cache)
and then dropped with posix_fadvise(POSIX_FADV_DONTNEED). With
--drop-caches, also `sync` and write 3 to /proc/sys/vm/drop_caches (every
clean page, dentry and inode of the host: needs root and a writable /proc);
a failure there is reported but is not an error, the per-file eviction has
been done anyway. Used by scripts/fuse_bench.sh.
"""
import os
import sys


def evict(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main(argv):
    drop = False
    files = []
    for a in argv:
        if a == "--drop-caches":
            drop = True
        elif a.startswith("-"):
            print(f"evict_cache: unknown option {a}", file=sys.stderr)
            return 2
        else:
            files.append(a)
    for f in files:
        evict(f)
    if drop:
        os.sync()
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        except OSError as e:
            print(f"evict_cache: cannot drop the host page cache: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
