#!/bin/bash
# Extended L2 entries: a subcluster both allocated and zero, allocation bits
# on an unallocated entry, a compressed entry with a bitmap; and what is not
# an error (all-zero bitmap, bit 0) (behaviour doc 6.12, 6.7).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

rm -f base.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on base.qcow2 4M
qemu-io -c 'write -P 0x11 0 4k' -c 'write -P 0x22 1M 64k' -c 'write -z 2M 64k' base.qcow2 >/dev/null
compare_full base.qcow2
expect_kinds base.qcow2

# Subcluster 0 of guest 1M (L2 index 16) allocated and zero.
cp base.qcow2 alloczero.qcow2
poke alloczero.qcow2 l2-bitmap 0x100000 --or 0x100000000
compare_full alloczero.qcow2
expect_kinds alloczero.qcow2 subcluster-allocated-and-zero
expect_located alloczero.qcow2 subcluster-allocated-and-zero l1-index=0 l2-index=16 guest-offset=0x100000 \
    host-offset="$(poke alloczero.qcow2 get l2-entry-offset 0x100000)" severity=corruption

# Guest 0 (4k written): subcluster 5 allocated and zero.
cp base.qcow2 alloczero0.qcow2
poke alloczero0.qcow2 l2-bitmap 0 0x0000002000000023
compare_full alloczero0.qcow2
expect_located alloczero0.qcow2 subcluster-allocated-and-zero l2-index=0 guest-offset=0

# Unallocated entry (guest 3M, L2 index 48) with an allocation bit.
cp base.qcow2 unalloc.qcow2
poke unalloc.qcow2 l2-bitmap 0x300000 0x1
compare_full unalloc.qcow2
expect_kinds unalloc.qcow2 unallocated-with-bitmap
expect_located unalloc.qcow2 unallocated-with-bitmap l2-index=48 guest-offset=0x300000

# Allocated entry with an all-zero bitmap; bit 0 of an entry: both clean.
cp base.qcow2 zerobits.qcow2
poke zerobits.qcow2 l2-bitmap 0x100000 0xffffffff00000000
compare_full zerobits.qcow2
expect_kinds zerobits.qcow2
cp base.qcow2 bit0.qcow2
poke bit0.qcow2 l2 0 --or 1
compare_full bit0.qcow2
expect_kinds bit0.qcow2

# A compressed entry (guest 64k, L2 index 1) with a non-zero bitmap word:
# skipped, so its host cluster leaks.
rm -f comp.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on comp.qcow2 4M
qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 64k 64k' comp.qcow2 >/dev/null
compare_full comp.qcow2
C=$(cluster_of "$(poke comp.qcow2 get host 0x10000)")
poke comp.qcow2 l2-bitmap 0x10000 0x1
compare_full comp.qcow2
expect_kinds comp.qcow2 compressed-with-bitmap refcount-too-high
expect_located comp.qcow2 compressed-with-bitmap l1-index=0 l2-index=1 guest-offset=0x10000
expect_located comp.qcow2 refcount-too-high cluster="$C" references=0
finish
