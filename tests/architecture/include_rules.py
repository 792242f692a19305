#!/usr/bin/env python3
"""The layering of ARCHITECTURE.md, checked: which folder may include what.

    include_rules.py ROOT              exit 1 naming every forbidden include
    include_rules.py --self-test ROOT  exit 0 only if each rule catches a
                                       violation made up for it (so the check
                                       itself cannot silently pass everything)

Our includes are root-relative ("catalog/vault.h"). A file's folder is the
longest entry of LAYERS that prefixes its path; it may include our headers
whose path starts with one of that entry's prefixes (a prefix ending in ".h"
is one file). Of a tools/ subsystem (tools/SUB/), other folders see only the
headers named in PUBLIC; the CLI (tools/ top level and tools/commands/) too.
System headers that belong to one layer are in OWNED.
"""
import os
import re
import sys

SUBSYSTEMS = ["dr", "images", "plans", "replication"]

# Headers of each tools/ subsystem that the CLI and the other subsystems may include.
PUBLIC = {
    "dr": ["tools/dr/failback.h", "tools/dr/failback_plan.h"],
    "images": ["tools/images/image_import.h", "tools/images/image_export.h"],
    "plans": ["tools/plans/plan_file.h", "tools/plans/plan_runner.h", "tools/plans/plan_state.h"],
    "replication": ["tools/replication/replication_source.h",
                    "tools/replication/replication_target.h",
                    "tools/replication/replication_status.h"],
}
ALL_PUBLIC = [h for hs in PUBLIC.values() for h in hs]

# What the subsystems share of the CLI's top level: text units, the progress
# line, the passphrase hash. Nothing that knows about options or commands.
CLI_SHARED = ["tools/units.h", "tools/progress.h", "tools/passphrase.h"]

LAYERS = {
    "journal/": ["journal/"],
    "catalog/": ["journal/", "catalog/"],
    "fs/vmdk/": ["journal/", "fs/vmdk/"],
    "fs/": ["journal/", "catalog/", "fs/"],
    "tools/": ["journal/", "catalog/", "fs/", "tools/cli_support.h", "tools/commands/",
               *CLI_SHARED, *ALL_PUBLIC],
}
for sub in SUBSYSTEMS:
    LAYERS[f"tools/{sub}/"] = ["journal/", "catalog/", "fs/vmdk/", f"tools/{sub}/", *CLI_SHARED,
                               *[h for s, hs in PUBLIC.items() if s != sub for h in hs]]
# tools/ top level: main.cc, cli*, units, progress, passphrase, commands/.
LAYERS["tools/commands/"] = LAYERS["tools/"]

# System headers only one place may include: the raw APIs stay wrapped.
# header prefix -> the files or (ending in "/") layers that may.
OWNED = {
    "lmdb.h": ["catalog/lmdb.h", "catalog/lmdb.cc"],
    "fuse": ["fs/"],
    "CLI/": ["tools/", "tools/commands/"],
}

QUOTED = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ANGLED = re.compile(r'^\s*#\s*include\s+<([^>]+)>', re.M)
SOURCE_DIRS = ["journal", "catalog", "fs", "tools"]


def layer_of(path):
    best = None
    for folder in LAYERS:
        if path.startswith(folder) and (best is None or len(folder) > len(best)):
            best = folder
    return best


def matches(name, patterns):
    """A pattern ending in "/" is a folder (a prefix), else one file."""
    return any(name.startswith(p) if p.endswith("/") else name == p for p in patterns)


def owned_ok(path, header):
    for name, owners in OWNED.items():
        if header.startswith(name):
            # A folder here is a layer: the file's own, not any prefix of it.
            return any(layer_of(path) == o if o.endswith("/") else path == o for o in owners)
    return True


def violations(files):
    """files: {path: text}. Returns ["path: includes X (reason)"]."""
    found = []
    for path, text in sorted(files.items()):
        layer = layer_of(path)
        if layer is None:
            continue
        allowed = LAYERS[layer]
        for inc in QUOTED.findall(text):
            if not matches(inc, allowed):
                found.append(f"{path}: includes \"{inc}\" ({layer} may include only "
                             f"{', '.join(sorted(set(p for p in allowed if p.endswith('/'))))} "
                             f"and named headers; see ARCHITECTURE.md)")
        for inc in ANGLED.findall(text):
            if not owned_ok(path, inc):
                found.append(f"{path}: includes <{inc}> (only its wrapper's layer may)")
    return found


def read_tree(root):
    files = {}
    for top in SOURCE_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in names:
                if n.endswith((".h", ".cc")):
                    full = os.path.join(dirpath, n)
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    with open(full, encoding="utf-8") as f:
                        files[rel] = f.read()
    return files


def self_test(files):
    """Each rule must catch an include made up to break it."""
    cases = [
        ("journal/journal.cc", '#include "catalog/vault.h"'),
        ("journal/segment_writer.h", '#include "fs/daemon.h"'),
        ("catalog/vault.cc", '#include "fs/fuse_ops.h"'),
        ("catalog/vault_io.cc", '#include "tools/cli_support.h"'),
        ("fs/vmdk/grain_directory.cc", '#include "fs/daemon.h"'),
        ("fs/vmdk/vmdk_descriptor.cc", '#include "catalog/vault.h"'),
        ("fs/mount_tree.cc", '#include "tools/images/image_export.h"'),
        ("tools/plans/plan_runner.cc", '#include "tools/dr/sparse_vmdk_patcher.h"'),
        ("tools/replication/pairing.cc", '#include "tools/cli_support.h"'),
        ("tools/images/output_file.cc", '#include "fs/daemon.h"'),
        ("tools/commands/export.cc", '#include "tools/images/grain_scan.h"'),
        ("catalog/catalog.cc", "#include <fuse3/fuse_lowlevel.h>"),
        ("fs/daemon.cc", "#include <lmdb.h>"),
        ("tools/replication/replication_source.cc", "#include <CLI/CLI.hpp>"),
    ]
    ok = True
    for path, line in cases:
        if path not in files:
            print(f"self-test: {path} is gone; update the case list")
            ok = False
            continue
        changed = dict(files)
        changed[path] = files[path] + "\n" + line + "\n"
        found = [v for v in violations(changed) if v.startswith(path + ":")]
        before = [v for v in violations(files) if v.startswith(path + ":")]
        if len(found) <= len(before):
            print(f"self-test: {line} in {path} was not caught")
            ok = False
        else:
            print(f"caught: {found[-1]}")
    return ok


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return 0 if self_test(read_tree(argv[2])) else 1
    if len(argv) != 2:
        print(__doc__)
        return 2
    files = read_tree(argv[1])
    found = violations(files)
    for v in found:
        print(v)
    print(f"{len(files)} files, {len(found)} forbidden includes")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
