#!/bin/bash
# Wrong refcount on a data cluster: too high (2), zero, and too low (1 with
# two references, after an internal snapshot) (behaviour doc 6.2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
H=$(cluster_of "$(poke base.qcow2 get host 0)")
L2=$(poke base.qcow2 get l2-table-offset 0)

# Too high: a leak and an OFLAG_COPIED error on the entry for guest 0.
cp base.qcow2 high.qcow2
poke high.qcow2 refcount "$H" 2
compare_full high.qcow2
expect_kinds high.qcow2 refcount-too-high oflag-copied-l2
expect_located high.qcow2 refcount-too-high cluster="$H" refcount=2 references=1 \
    l1-index=0 l2-index=0 guest-offset=0 snapshot=null repair=leaks
expect_located high.qcow2 oflag-copied-l2 cluster="$H" l1-index=0 l2-index=0 guest-offset=0 \
    host-offset="$L2" refcount=2

# Zero: corruption plus the COPIED error.
cp base.qcow2 zero.qcow2
poke zero.qcow2 refcount "$H" 0
compare_full zero.qcow2
expect_kinds zero.qcow2 refcount-too-low oflag-copied-l2
expect_located zero.qcow2 refcount-too-low cluster="$H" host-offset=$((H * 65536)) refcount=0 references=1 \
    l1-index=0 l2-index=0 guest-offset=0 severity=corruption repair=all
expect_located zero.qcow2 oflag-copied-l2 cluster="$H" l1-index=0 l2-index=0 guest-offset=0 refcount=0

# Zero on the second data cluster of guest 1M+64k (L2 index 17).
cp base.qcow2 zero17.qcow2
H17=$(cluster_of "$(poke zero17.qcow2 get host 0x110000)")
poke zero17.qcow2 refcount "$H17" 0
compare_full zero17.qcow2
expect_count zero17.qcow2 refcount-too-low 1
expect_located zero17.qcow2 refcount-too-low cluster="$H17" l1-index=0 l2-index=17 guest-offset=0x110000
expect_located zero17.qcow2 oflag-copied-l2 cluster="$H17" l1-index=0 l2-index=17 guest-offset=0x110000 \
    host-offset=$((L2 + 17 * 8))

# Too low: a snapshot shares the cluster (reference 2), refcount set to 1.
cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
compare_full snap.qcow2
assert_eq 2 "$(poke snap.qcow2 get refcount "$H")" "refcount of the shared cluster"
poke snap.qcow2 refcount "$H" 1
compare_full snap.qcow2
expect_kinds snap.qcow2 refcount-too-low oflag-copied-l2
expect_located snap.qcow2 refcount-too-low cluster="$H" refcount=1 references=2 l2-index=0 guest-offset=0
expect_count snap.qcow2 oflag-copied-l2 1 cluster="$H" l2-index=0 refcount=1
finish
