#!/bin/bash
# Damaged L2 entries: data beyond the end of the file (far, and exactly at
# the file size), unaligned data, unaligned preallocated zero, reserved bits
# on allocated and unallocated entries, and bit 0 where it is not reserved
# (behaviour doc 6.7).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
G=0x110000                      # guest 1M+64k: L1 index 0, L2 index 17
E=$(poke base.qcow2 get l2-entry-offset $G)
H=$(cluster_of "$(poke base.qcow2 get host $G)")
SIZE=$(stat -c %s base.qcow2)

# Beyond the end of the file.
cp base.qcow2 beyond.qcow2
poke beyond.qcow2 l2 $G 0x8000000001000000
compare_full beyond.qcow2
expect_kinds beyond.qcow2 beyond-end-of-file refcount-too-high oflag-copied-l2
expect_located beyond.qcow2 beyond-end-of-file host-offset=0x1000000 l1-index=0 l2-index=17 \
    guest-offset=$G snapshot=null severity=corruption
expect_located beyond.qcow2 refcount-too-high cluster="$H" references=0
expect_located beyond.qcow2 oflag-copied-l2 l1-index=0 l2-index=17 guest-offset=$G host-offset="$E"

# Exactly at the file size.
cp base.qcow2 atsize.qcow2
poke atsize.qcow2 l2 $G "$(printf 0x%x $(( (1 << 63) | SIZE )))"
compare_full atsize.qcow2
expect_located atsize.qcow2 beyond-end-of-file host-offset="$SIZE" l2-index=17 guest-offset=$G

# Unaligned data cluster (touches two clusters: the next one is shared).
cp base.qcow2 unaligned.qcow2
poke unaligned.qcow2 l2 0 --or 0x200
compare_full unaligned.qcow2
expect_kinds unaligned.qcow2 unaligned-data-cluster refcount-too-low
expect_located unaligned.qcow2 unaligned-data-cluster l1-index=0 l2-index=0 guest-offset=0 \
    host-offset="$(poke unaligned.qcow2 get l2-entry-offset 0)"
cp base.qcow2 unaligned17.qcow2
poke unaligned17.qcow2 l2 $G --or 0x200
compare_full unaligned17.qcow2
expect_located unaligned17.qcow2 unaligned-data-cluster l1-index=0 l2-index=17 guest-offset=$G host-offset="$E"

# Unaligned preallocated zero cluster.
cp base.qcow2 prealloc.qcow2
poke prealloc.qcow2 l2 $G --or 0x201
compare_full prealloc.qcow2
expect_kinds prealloc.qcow2 unaligned-preallocated-zero refcount-too-low
expect_located prealloc.qcow2 unaligned-preallocated-zero l2-index=17 guest-offset=$G host-offset="$E" repair=all

# Reserved bits 56, 61, 1 and 8 on an allocated entry.
for bits in 0x0100000000000000 0x2000000000000000 0x2 0x100; do
    cp base.qcow2 reserved.qcow2
    poke reserved.qcow2 l2 $G --or $bits
    compare_full reserved.qcow2
    expect_kinds reserved.qcow2 l2-reserved-bits
    expect_located reserved.qcow2 l2-reserved-bits l1-index=0 l2-index=17 guest-offset=$G host-offset="$E"
done

# Reserved bits on an unallocated entry (guest 2M, L2 index 32).
for value in 0x2 0x0100000000000000; do
    cp base.qcow2 unalloc.qcow2
    poke unalloc.qcow2 l2 0x200000 $value
    compare_full unalloc.qcow2
    expect_kinds unalloc.qcow2 l2-reserved-bits
    expect_located unalloc.qcow2 l2-reserved-bits l2-index=32 guest-offset=0x200000
done

# Bit 0 (the zero flag) and COPIED on an unallocated entry are not errors.
for value in 0x1 0x8000000000000000; do
    cp base.qcow2 unalloc.qcow2
    poke unalloc.qcow2 l2 0x200000 $value
    compare_full unalloc.qcow2
    expect_kinds unalloc.qcow2
done

# Bit 0 on a v2 image: not reserved.
mkbase v2.qcow2 -o compat=0.10
poke v2.qcow2 l2 0 --or 1
compare_full v2.qcow2
expect_kinds v2.qcow2
finish
