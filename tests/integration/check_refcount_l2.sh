#!/bin/bash
# Wrong refcount on an L2 table cluster: too high (2), zero, and too low (1
# while a snapshot shares the table) (behaviour doc 6.3).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
L=$(cluster_of "$(poke base.qcow2 get l2-table-offset 0)")
L1=$(poke base.qcow2 get header l1_table_offset)

cp base.qcow2 high.qcow2
poke high.qcow2 refcount "$L" 2
compare_full high.qcow2
expect_kinds high.qcow2 refcount-too-high oflag-copied-l1
expect_located high.qcow2 refcount-too-high cluster="$L" refcount=2 references=1 l1-index=0 \
    owner="L2 table for L1 index 0"
expect_located high.qcow2 oflag-copied-l1 l1-index=0 cluster="$L" host-offset="$L1" refcount=2

cp base.qcow2 zero.qcow2
poke zero.qcow2 refcount "$L" 0
compare_full zero.qcow2
expect_kinds zero.qcow2 refcount-too-low oflag-copied-l1
expect_located zero.qcow2 refcount-too-low cluster="$L" refcount=0 references=1 l1-index=0 \
    owner="L2 table for L1 index 0"
expect_located zero.qcow2 oflag-copied-l1 l1-index=0 cluster="$L" refcount=0

cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
assert_eq 2 "$(poke snap.qcow2 get refcount "$L")" "refcount of the shared L2 table"
poke snap.qcow2 refcount "$L" 1
compare_full snap.qcow2
expect_kinds snap.qcow2 refcount-too-low oflag-copied-l1
expect_located snap.qcow2 refcount-too-low cluster="$L" refcount=1 references=2 l1-index=0
expect_located snap.qcow2 oflag-copied-l1 l1-index=0 cluster="$L" refcount=1

# A 1 GiB image whose second L2 table (L1 index 1) has refcount 0.
qemu-img create -q -f qcow2 big.qcow2 1G
qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 512M 64k' big.qcow2 >/dev/null
L=$(cluster_of "$(poke big.qcow2 get l2-table-offset 0x20000000)")
poke big.qcow2 refcount "$L" 0
compare_full big.qcow2
expect_located big.qcow2 refcount-too-low cluster="$L" l1-index=1 owner="L2 table for L1 index 1"
expect_located big.qcow2 oflag-copied-l1 l1-index=1 cluster="$L" \
    host-offset=$(( $(poke big.qcow2 get header l1_table_offset) + 8 ))
finish
