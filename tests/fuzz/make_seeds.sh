#!/bin/bash
# Writes a seed corpus for the qcow2 fuzz harnesses into OUTDIR: small
# images made by qemu-img and qemu-io covering each layout the parser
# knows (cluster sizes 512 B to 64 KiB, v2 and v3, extended L2, zlib and
# zstd compression, snapshots, bitmaps, zero clusters, refcount widths,
# backing names, external data files, encryption, dirty and preallocated
# images), plus a few raw files.
#   tests/fuzz/make_seeds.sh OUTDIR
# Every seed is cut to 64 KiB, the fuzzer's -max_len. A seed whose tool
# step fails (an older qemu) is skipped with a warning.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: make_seeds.sh OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
max_len=65536
W=$(mktemp -d "${TMPDIR:-/tmp}/imgmend-seeds-XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

create() { qemu-img create -q -f qcow2 "$@"; }
io() { # IMAGE COMMAND...: qemu-io commands on a qcow2 image
    local img=$1
    shift
    local args=()
    for c in "$@"; do args+=(-c "$c"); done
    qemu-io -f qcow2 "${args[@]}" "$img" >/dev/null
}
# poke IMAGE OFFSET BYTES VALUE: stores a big-endian field in place.
poke() {
    python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2], 0))
f.write(int(sys.argv[4], 0).to_bytes(int(sys.argv[3]), "big"))' "$@"
}

# A spread of data, zeros and holes: several L2 tables when clusters are
# small, partial clusters, a preallocated zero cluster and a discard.
fill() { # IMAGE
    io "$1" 'write -P 0xa1 0 1536' 'write -P 0xb2 5k 3k' 'write -z 12k 4k' \
        'write -P 0xc3 40k 512' 'write -P 0xd4 100k 8k' 'write -z 102k 2k' 'discard 104k 1k' \
        'write -P 0xe5 200k 1k'
}

# A raw image with compressible and incompressible clusters, for convert -c.
make_raw_source() {
    qemu-img create -q -f raw src.raw 64K
    qemu-io -f raw -c 'write -P 0x5a 0 8k' -c 'write -P 0x00 8k 4k' -c 'write -P 0x11 20k 1k' src.raw >/dev/null
    head -c 4096 /dev/urandom | dd of=src.raw bs=4096 seek=8 conv=notrunc status=none
}

# compact IMAGE: rewrites a one-L2 image into four clusters (header, L1,
# L2, data) so an image with 16 KiB clusters fits in 64 KiB. The result
# has no refcount table: it is a seed for the reader, not an image qemu
# would open.
compact() {
    python3 - "$1" <<'EOF'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
cb = struct.unpack_from(">I", b, 20)[0]
cs = 1 << cb
l1_off = struct.unpack_from(">Q", b, 40)[0]
incompat = struct.unpack_from(">Q", b, 72)[0]
entry = 16 if incompat & 16 else 8
mask = 0x00fffffffffffe00
l2_off = struct.unpack_from(">Q", b, l1_off)[0] & mask
l2 = bytearray(b[l2_off:l2_off + cs].ljust(cs, b"\0"))
new = bytearray(4 * cs)
new[0:cs] = b[0:cs]
remap, data = {}, []
for i in range(0, cs, entry):
    e = struct.unpack_from(">Q", l2, i)[0]
    host = e & mask
    if e & (1 << 62) or host == 0:
        continue
    if host not in remap:
        remap[host] = (3 + len(remap)) * cs
        data.append(host)
    struct.pack_into(">Q", l2, i, (e & ~mask) | remap[host])
if data:
    new[3 * cs:4 * cs] = b[data[0]:data[0] + cs].ljust(cs, b"\0")
new[2 * cs:3 * cs] = l2
struct.pack_into(">Q", new, cs, (1 << 63) | 2 * cs)       # L1[0] -> L2
struct.pack_into(">Q", new, 40, cs)                      # l1_table_offset
struct.pack_into(">QI", new, 48, 0, 0)                   # no refcount table
struct.pack_into(">IQ", new, 60, 0, 0)                   # no snapshots
open(path, "wb").write(new)
EOF
}

# --- the seeds; each function leaves its image as $1 ---

seed_v3_c512() { create -o cluster_size=512 "$1" 1M; fill "$1"; }
seed_v3_c1k() { create -o cluster_size=1024 "$1" 1M; fill "$1"; }
seed_v3_c2k() { create -o cluster_size=2048 "$1" 1M; fill "$1"; }
seed_v3_c4k() { create -o cluster_size=4096 "$1" 1M; fill "$1"; }
seed_v3_c64k_header() { create "$1" 16M; io "$1" 'write -P 1 0 4k'; }
seed_v2_c512() { create -o compat=0.10,cluster_size=512 "$1" 1M; fill "$1"; }
seed_v2_c4k() { create -o compat=0.10,cluster_size=4096 "$1" 1M; fill "$1"; }
seed_refcount1() { create -o cluster_size=1024,refcount_bits=1 "$1" 1M; fill "$1"; }
seed_refcount2() { create -o cluster_size=512,refcount_bits=2 "$1" 512K; fill "$1"; }
seed_refcount4() { create -o cluster_size=2048,refcount_bits=4 "$1" 512K; fill "$1"; }
seed_refcount8() { create -o cluster_size=512,refcount_bits=8 "$1" 512K; fill "$1"; }
seed_refcount32() { create -o cluster_size=1024,refcount_bits=32 "$1" 512K; fill "$1"; }
seed_refcount64() { create -o cluster_size=512,refcount_bits=64 "$1" 1M; fill "$1"; }
seed_zero_clusters() {
    create -o cluster_size=512 "$1" 256K
    io "$1" 'write -P 7 0 8k' 'write -z 0 2k' 'write -z -u 4k 1k' 'write -z 64k 8k' 'discard 6k 512'
}
seed_v2_zero_writes() { create -o compat=0.10,cluster_size=512 "$1" 256K; io "$1" 'write -z 0 4k' 'write -P 3 8k 1k'; }
seed_extended_l2() {
    create -o cluster_size=16384,extended_l2=on "$1" 1M
    io "$1" 'write -P 0x11 0 1k' 'write -P 0x22 2k 512' 'write -z 4k 2k' 'write -P 0x33 8k 4k' 'discard 10k 1k'
    compact "$1"
}
seed_extended_l2_zero_plain() {
    create -o cluster_size=16384,extended_l2=on "$1" 1M
    io "$1" 'write -z -u 0 8k' 'write -P 0x44 12k 512'
    compact "$1"
}
# Uncompacted: the header and L1 survive the 64 KiB cut, the L2 table not.
seed_extended_l2_64k() { create -o cluster_size=65536,extended_l2=on "$1" 1M; io "$1" 'write -P 1 0 4k'; }
seed_compressed_zlib_c4k() {
    make_raw_source
    qemu-img convert -c -O qcow2 -o cluster_size=4096 src.raw "$1"
}
seed_compressed_zlib_c512() {
    make_raw_source
    qemu-img convert -c -O qcow2 -o cluster_size=512 src.raw "$1"
}
seed_compressed_zstd_c4k() {
    make_raw_source
    qemu-img convert -c -O qcow2 -o cluster_size=4096,compression_type=zstd src.raw "$1"
}
seed_compressed_zstd_c2k() {
    make_raw_source
    qemu-img convert -c -O qcow2 -o cluster_size=2048,compression_type=zstd src.raw "$1"
}
seed_compressed_v2() {
    make_raw_source
    qemu-img convert -c -O qcow2 -o compat=0.10,cluster_size=1024 src.raw "$1"
}
seed_snapshots() {
    create -o cluster_size=512 "$1" 256K
    io "$1" 'write -P 1 0 4k'
    qemu-img snapshot -c first "$1"
    io "$1" 'write -P 2 1k 2k' 'write -P 3 64k 1k'
    qemu-img snapshot -c second-with-a-longer-name "$1"
    io "$1" 'write -z 0 1k'
}
seed_snapshots_v2() {
    create -o compat=0.10,cluster_size=1024 "$1" 256K
    io "$1" 'write -P 1 0 4k'
    qemu-img snapshot -c s1 "$1"
    io "$1" 'write -P 2 0 1k'
}
seed_bitmaps() {
    create -o cluster_size=512 "$1" 256K
    io "$1" 'write -P 1 0 1k'
    qemu-img bitmap --add "$1" dirty0
    qemu-img bitmap --add -g 65536 "$1" coarse
    io "$1" 'write -P 2 4k 4k' 'write -P 3 128k 1k'
    qemu-img bitmap --disable "$1" coarse
}
seed_backing() {
    create -o cluster_size=512 base.qcow2 256K
    io base.qcow2 'write -P 9 0 64k'
    create -o cluster_size=512 -b base.qcow2 -F qcow2 "$1"
    io "$1" 'write -P 1 1k 1k' 'write -z 8k 1k'
}
seed_backing_raw_v2() {
    qemu-img create -q -f raw base.raw 128K
    create -o compat=0.10,cluster_size=1024 -b base.raw -F raw "$1"
    io "$1" 'write -P 1 0 1k'
}
seed_backing_long_name() {
    create -o cluster_size=4096 -u -b "some/deep/folder/$(printf 'x%.0s' {1..200}).qcow2" -F qcow2 "$1" 1M
}
seed_data_file() { create -o cluster_size=1024,data_file=data.raw "$1" 256K; fill "$1"; }
seed_data_file_raw() { create -o cluster_size=4096,data_file=data2.raw,data_file_raw=on "$1" 256K; fill "$1"; }
seed_preallocated_metadata() { create -o cluster_size=512,preallocation=metadata "$1" 32K; io "$1" 'write -P 4 1k 1k'; }
seed_lazy_refcounts_dirty() {
    create -o cluster_size=512,lazy_refcounts=on "$1" 256K
    qemu-io -f qcow2 -c 'write -P 1 0 4k' -c abort "$1" >/dev/null 2>&1 || true
}
seed_encrypted_aes() {
    qemu-img create -q --object secret,id=s0,data=seed -f qcow2 \
        -o cluster_size=512,encrypt.format=aes,encrypt.key-secret=s0 "$1" 64K
    qemu-io --object secret,id=s0,data=seed --image-opts -c 'write -P 7 0 2k' \
        "driver=qcow2,file.filename=$1,encrypt.key-secret=s0" >/dev/null
}
seed_encrypted_luks() {
    # qemu times its key derivation in thread CPU time and may find none on a
    # busy machine ("Unable to get accurate CPU usage"): try again.
    local attempt
    for attempt in 1 2 3 4 5; do
        qemu-img create -q --object secret,id=s0,data=seed -f qcow2 \
            -o cluster_size=4096,encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 "$1" 64K \
            2>/dev/null && return 0
    done
    return 1
}
# Beyond what fits in a small file: a 128 GiB disk whose L1 table lies past
# the end of the file (it reads as zeros, as in qemu).
seed_huge_virtual_size() {
    create -o cluster_size=512 "$1" 1M
    io "$1" 'write -P 1 0 1k'
    poke "$1" 24 8 $((128 << 30))
    poke "$1" 36 4 $((4 << 20))
}
seed_odd_virtual_size() { create -o cluster_size=512 "$1" 64K; io "$1" 'write -P 1 63k 1k'; poke "$1" 24 8 65000; }

seeds=$(declare -F | sed -n 's/^declare -f seed_//p')
made=0
for s in $seeds; do
    img="$W/$s.qcow2"
    # errexit is ignored inside an `if` condition, so test the status after.
    set +e
    (set -e; "seed_$s" "$img") 2>"$W/err"
    rc=$?
    set -e
    if [ $rc -eq 0 ]; then
        truncate -s "<$max_len" "$img"
        cp "$img" "$out/$s.qcow2"
        made=$((made + 1))
    else
        echo "make_seeds: skipped $s: $(head -c 300 "$W/err")" >&2
    fi
    rm -f "$W"/*.qcow2 "$W"/*.raw
done

# Raw seeds: the raw path, and the qcow2 magic on too short a header.
head -c 4096 /dev/urandom >"$out/raw_random.raw"
printf 'QFI\xfb\0\0\0\3' >"$out/raw_short_magic.raw"
: >"$out/raw_empty.raw"
echo "make_seeds: $((made + 3)) seeds in $out" >&2
