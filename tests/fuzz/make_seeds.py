#!/usr/bin/env python3
"""Writes the tiny hand-made seed files in tests/fuzz/seeds/ (committed; rerun
only to change them). Small inputs fuzz fast; qemu-img made ones are added
by scripts/fuzz.sh at run time. Each sparse seed is a valid image of 16
one-sector grains, 4 entries a grain table; qemu-img reads them all (the
test suite's fuzz run checks that).

  tiny-sparse.vmdk   hosted sparse, redundant directory, zeroed-grain GTEs,
                     embedded descriptor
  tiny-stream.vmdk   streamOptimized, VMware layout: grains with markers,
                     tables and directory after them, footer, end-of-stream
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SECTOR = 512
GRAIN = 1          # sectors
GTES = 4
CAPACITY = 16      # sectors
GRAINS = CAPACITY // GRAIN
TABLES = GRAINS // GTES


def header(version, flags, desc_off, desc_size, rgd, gd, overhead, compress):
    h = struct.pack('<4sIIQQQQIQQQB4sH', b'KDMV', version, flags, CAPACITY, GRAIN,
                    desc_off, desc_size, GTES, rgd, gd, overhead, 0, b'\n \r\n', compress)
    return h.ljust(SECTOR, b'\0')


def pad(b):
    return b + b'\0' * (-len(b) % SECTOR)


def grain_data(i):
    return bytes([0x40 + i]) * (GRAIN * SECTOR)


def descriptor(create_type, name):
    return ('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
            'createType="%s"\n\n# Extent description\nRW %d SPARSE "%s"\n\n'
            '# The Disk Data Base\n#DDB\n\nddb.adapterType = "ide"\n'
            % (create_type, CAPACITY, name)).encode()


def tiny_sparse():
    # 0 header, 1-2 descriptor, 3 rgd, 4-7 rgts, 8 gd, 9-12 gts, 13.. grains
    desc = descriptor('monolithicSparse', 'tiny-sparse.vmdk')
    rgd, gd, overhead = 3, 8, 13
    # grain i: data in 0, 3, 6, 9, 15; zero grain (GTE 1) in 1, 10; the rest unallocated
    data = [0, 3, 6, 9, 15]
    gtes = [0] * GRAINS
    grains = b''
    for n, i in enumerate(data):
        gtes[i] = overhead + n
        grains += grain_data(i)
    gtes[1] = gtes[10] = 1
    out = header(2, 1 | 2 | 4, 1, 2, rgd, gd, overhead, 0)
    out += pad(desc).ljust(2 * SECTOR, b'\0')
    for first in (rgd + 1, gd + 1):   # rgd then rgts; gd then gts
        out += pad(struct.pack('<%dI' % TABLES, *[first + t for t in range(TABLES)]))
        for t in range(TABLES):
            out += pad(struct.pack('<%dI' % GTES, *gtes[t * GTES:(t + 1) * GTES]))
    assert len(out) == overhead * SECTOR
    return out + grains


def marker(value, size, mtype):
    return struct.pack('<QII', value, size, mtype).ljust(SECTOR, b'\0')


def tiny_stream():
    desc = descriptor('streamOptimized', 'tiny-stream.vmdk')
    out = bytearray()
    out += b'\0' * SECTOR                 # header, written last
    out += pad(desc).ljust(2 * SECTOR, b'\0')
    overhead = len(out) // SECTOR
    gtes = [0] * GRAINS
    for i in (0, 2, 3, 7, 15):
        gtes[i] = len(out) // SECTOR
        z = zlib.compress(grain_data(i))
        out += pad(struct.pack('<QI', i * GRAIN, len(z)) + z)
    gd = []
    for t in range(TABLES):
        table = gtes[t * GTES:(t + 1) * GTES]
        if not any(table):
            gd.append(0)
            continue
        out += marker(1, 0, 1)
        gd.append(len(out) // SECTOR)
        out += pad(struct.pack('<%dI' % GTES, *table))
    out += marker(1, 0, 2)
    gd_at = len(out) // SECTOR
    out += pad(struct.pack('<%dI' % TABLES, *gd))
    flags = 1 | (1 << 16) | (1 << 17)
    out += marker(1, 0, 3)
    out += header(3, flags, 1, 2, 0, gd_at, overhead, 1)
    out += marker(0, 0, 0)
    out[0:SECTOR] = header(3, flags, 1, 2, 0, 0xffffffffffffffff, overhead, 1)
    return bytes(out)


def main():
    with open(os.path.join(HERE, 'seeds/sparse/tiny-sparse.vmdk'), 'wb') as f:
        f.write(tiny_sparse())
    with open(os.path.join(HERE, 'seeds/sparse/tiny-stream.vmdk'), 'wb') as f:
        f.write(tiny_stream())
    with open(os.path.join(HERE, 'seeds/descriptor/tiny-sparse.txt'), 'wb') as f:
        f.write(descriptor('monolithicSparse', 'tiny-sparse.vmdk'))


if __name__ == '__main__':
    main()
