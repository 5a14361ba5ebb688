#!/bin/bash
# Clean images of every configuration check clean, identical to qemu-img:
# cluster sizes 512/4k/64k/2M, compat 0.10, extended L2, compressed (zlib,
# zstd), snapshots, bitmaps, preallocation, zero clusters, odd sizes, a
# backing file, a 4 TiB sparse image, an external data file (doc 6.18).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

# clean IMAGE: identical to qemu-img, exit 0, no finding at all.
clean() {
    compare_full "$1"
    assert_eq 0 "$ORC" "exit code on clean $1"
    expect_kinds "$1"
}
writes() { # image: data at 0, 1M..1M+128k, and a zero write at 2M
    qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' -c 'write -z 2M 64k' "$1" >/dev/null
}

for cs in 512 4k 64k 2M; do
    qemu-img create -q -f qcow2 -o cluster_size=$cs cs$cs.qcow2 4M
    writes cs$cs.qcow2
    clean cs$cs.qcow2
    expect_exit 0 cs$cs.qcow2 --verify-compressed
done

qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
writes v2.qcow2
clean v2.qcow2
qemu-img create -q -f qcow2 -o compat=0.10 v2zero.qcow2 4M
qemu-io -c 'write -P 0x11 0 64k' -c 'write -z 0 64k' v2zero.qcow2 >/dev/null
clean v2zero.qcow2
qemu-img create -q -f qcow2 -o compat=0.10 v2empty.qcow2 4M
clean v2empty.qcow2

qemu-img create -q -f qcow2 -o extended_l2=on ext.qcow2 4M
writes ext.qcow2
qemu-io -c 'write -P 0x33 3M 4k' ext.qcow2 >/dev/null
clean ext.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=2M ext2m.qcow2 8M
qemu-io -c 'write -P 0x11 0 64k' -c 'write -z 4M 64k' ext2m.qcow2 >/dev/null
clean ext2m.qcow2

for ct in zlib zstd; do
    qemu-img create -q -f qcow2 -o compression_type=$ct comp$ct.qcow2 4M
    qemu-io -c 'write -c -P 0x11 0 64k' -c 'write -c -P 0x22 1M 128k' -c 'write -P 0x33 2M 64k' comp$ct.qcow2 >/dev/null
    clean comp$ct.qcow2
    expect_exit 0 comp$ct.qcow2 --verify-compressed
    jq -e '.findings | length == 0' ours-check.json >/dev/null || fail "findings with --verify-compressed on $ct"
    pass
done

mkbase snaps.qcow2
qemu-img snapshot -c s1 snaps.qcow2
qemu-io -c 'write -P 0x77 0 64k' snaps.qcow2 >/dev/null
qemu-img snapshot -c s2 snaps.qcow2
qemu-io -c 'write -P 0x78 1M 64k' snaps.qcow2 >/dev/null
clean snaps.qcow2

mkbase bitmaps.qcow2
qemu-img bitmap --add -g 64k bitmaps.qcow2 b0
qemu-io -c 'write -P 0x66 2M 64k' bitmaps.qcow2 >/dev/null
qemu-img bitmap --add bitmaps.qcow2 b1
qemu-img bitmap --add bitmaps.qcow2 b2 --disable
qemu-io -c 'write -P 0x67 3M 64k' bitmaps.qcow2 >/dev/null
clean bitmaps.qcow2

for p in metadata falloc full; do
    qemu-img create -q -f qcow2 -o preallocation=$p prealloc$p.qcow2 4M
    clean prealloc$p.qcow2
done

qemu-img create -q -f qcow2 empty.qcow2 4M
clean empty.qcow2
qemu-img create -q -f qcow2 odd.qcow2 4194816
qemu-io -c 'write -P 1 4194304 512' odd.qcow2 >/dev/null
clean odd.qcow2

qemu-img create -q -f qcow2 zeros.qcow2 4M
qemu-io -c 'write -P 0x11 0 128k' -c 'write -z 0 64k' -c 'write -z -u 64k 64k' -c 'discard 1M 64k' zeros.qcow2 >/dev/null
clean zeros.qcow2

qemu-img create -q -f qcow2 backing.qcow2 4M
qemu-io -c 'write -P 1 0 1M' backing.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b backing.qcow2 -F qcow2 overlay.qcow2
qemu-io -c 'write -P 2 64k 64k' overlay.qcow2 >/dev/null
clean overlay.qcow2

# 4 TiB, sparse: data at the start, the middle and the last cluster.
qemu-img create -q -f qcow2 huge.qcow2 4T
qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 2T 64k' -c 'write -P 3 4398046445568 64k' huge.qcow2 >/dev/null
clean huge.qcow2
assert_eq 67108864 "$(our_field huge.qcow2 total-clusters)" "total clusters of 4 TiB"

# External data file (raw and not raw).
qemu-img create -q -f qcow2 -o data_file=ext.raw external.qcow2 4M
qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 1M 128k' -c 'write -z 2M 64k' external.qcow2 >/dev/null
clean external.qcow2
qemu-img create -q -f qcow2 -o data_file=extraw.raw,data_file_raw=on externalraw.qcow2 4M
qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 1M 128k' externalraw.qcow2 >/dev/null
clean externalraw.qcow2
finish
