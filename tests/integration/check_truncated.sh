#!/bin/bash
# Truncated files: cut inside the last data cluster, the whole last data
# cluster cut, cut inside the L2 table, cut inside the refcount block, and a
# 512-byte-cluster image cut inside its last L2 table (behaviour doc 6.14).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
L2=$(poke base.qcow2 get l2-table-offset 0)

# Cut inside the last data cluster: allowed.
cp base.qcow2 partial.qcow2
truncate -s $((0x78000)) partial.qcow2
compare_full partial.qcow2
expect_kinds partial.qcow2

# The whole last data cluster (guest 1M+64k) cut off.
cp base.qcow2 lastdata.qcow2
H=$(poke lastdata.qcow2 get host 0x110000)
truncate -s "$H" lastdata.qcow2
compare_full lastdata.qcow2
# (cluster 7 keeps its refcount past the new end: a warning)
expect_kinds lastdata.qcow2 beyond-end-of-file refcount-beyond-end
expect_warning lastdata.qcow2 refcount-beyond-end
expect_located lastdata.qcow2 refcount-beyond-end host-offset="$H" \
    message="1 clusters beyond the end of the file have non-zero refcounts"
expect_located lastdata.qcow2 beyond-end-of-file host-offset="$H" l1-index=0 l2-index=17 guest-offset=0x110000

# Cut inside the L2 table: every data reference is past the end.
cp base.qcow2 inl2.qcow2
truncate -s $((L2 + 0x8000)) inl2.qcow2
compare_full inl2.qcow2
expect_count inl2.qcow2 beyond-end-of-file 3
for g in 0 0x100000 0x110000; do
    expect_located inl2.qcow2 beyond-end-of-file host-offset="$(poke base.qcow2 get host $g)" \
        l2-index=$((g / 65536)) guest-offset=$g
done

# Cut inside the refcount block: the L1 reads as zeros, clean.
cp base.qcow2 inrefblock.qcow2
truncate -s $(( $(poke base.qcow2 get refblock 0) + 0x8000 )) inrefblock.qcow2
compare_full inrefblock.qcow2
expect_kinds inrefblock.qcow2 refcount-beyond-end
expect_located inrefblock.qcow2 refcount-beyond-end severity=warning \
    message="4 clusters beyond the end of the file have non-zero refcounts"

# 512-byte clusters, cut inside the last L2 table.
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 1M
qemu-io -c 'write -P 0x11 0 4k' -c 'write -P 0x22 512k 512' small.qcow2 >/dev/null
SL2=$(poke small.qcow2 get l2-table-offset 0x80000)
SH=$(poke small.qcow2 get host 0x80000)
truncate -s $((SL2 + 256)) small.qcow2
compare_full small.qcow2
expect_kinds small.qcow2 beyond-end-of-file refcount-beyond-end
expect_located small.qcow2 beyond-end-of-file host-offset="$SH" l1-index=$((0x80000 / (64 * 512))) l2-index=0 \
    guest-offset=0x80000
finish
