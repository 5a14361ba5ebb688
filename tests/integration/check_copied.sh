#!/bin/bash
# OFLAG_COPIED missing and extra, in L1 and L2 entries; COPIED in a snapshot
# L1 entry is not checked (behaviour doc 6.9).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
L1=$(poke base.qcow2 get header l1_table_offset)
L2C=$(cluster_of "$(poke base.qcow2 get l2-table-offset 0)")
G=0x100000
E=$(poke base.qcow2 get l2-entry-offset $G)
H=$(cluster_of "$(poke base.qcow2 get host $G)")

cp base.qcow2 l1-missing.qcow2
poke l1-missing.qcow2 l1 0 --and-not 0x8000000000000000
compare_full l1-missing.qcow2
expect_kinds l1-missing.qcow2 oflag-copied-l1
expect_located l1-missing.qcow2 oflag-copied-l1 l1-index=0 cluster="$L2C" host-offset="$L1" refcount=1 repair=all

cp snap.qcow2 l1-extra.qcow2
poke l1-extra.qcow2 l1 0 --or 0x8000000000000000
compare_full l1-extra.qcow2
expect_kinds l1-extra.qcow2 oflag-copied-l1
expect_located l1-extra.qcow2 oflag-copied-l1 l1-index=0 cluster="$L2C" host-offset="$L1" refcount=2

cp base.qcow2 l2-missing.qcow2
poke l2-missing.qcow2 l2 $G --and-not 0x8000000000000000
compare_full l2-missing.qcow2
expect_kinds l2-missing.qcow2 oflag-copied-l2
expect_located l2-missing.qcow2 oflag-copied-l2 l1-index=0 l2-index=16 guest-offset=$G host-offset="$E" \
    cluster="$H" refcount=1 repair=all

cp snap.qcow2 l2-extra.qcow2
poke l2-extra.qcow2 l2 $G --or 0x8000000000000000
compare_full l2-extra.qcow2
expect_kinds l2-extra.qcow2 oflag-copied-l2
expect_located l2-extra.qcow2 oflag-copied-l2 l1-index=0 l2-index=16 guest-offset=$G host-offset="$E" \
    cluster="$H" refcount=2
expect_count l2-extra.qcow2 oflag-copied-l2 1

# COPIED in a snapshot's L1 entry: not an error.
cp snap.qcow2 snap-l1.qcow2
qemu-io -c 'write -P 0x77 0 64k' snap-l1.qcow2 >/dev/null
poke snap-l1.qcow2 snapshot-l1 0 0 --or 0x8000000000000000
compare_full snap-l1.qcow2
expect_kinds snap-l1.qcow2
finish
