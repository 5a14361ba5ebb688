#!/bin/bash
# Repairing leaks (behaviour doc 6.1, 6.2-6.4 "too high" rows, 6.17): an L2
# entry cleared, a cluster appended with refcount 1, refcounts too high on a
# data cluster, an L2 table, the refcount block, the header, the L1 table
# and the refcount table, in every refcount width. -r leaks and -r all fix
# them exactly as qemu-img does: clean afterwards, same guest data.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
L2=$(cluster_of "$(poke base.qcow2 get l2-table-offset 0)")
B=$(cluster_of "$(poke base.qcow2 get refblock 0)")
L1=$(cluster_of "$(poke base.qcow2 get header l1_table_offset)")
RT=$(cluster_of "$(poke base.qcow2 get header refcount_table_offset)")
D=$(cluster_of "$(poke base.qcow2 get host 0)")

# A clean image: nothing to do, nothing written.
for mode in leaks all; do
    cp base.qcow2 clean.qcow2
    our_repair $mode clean.qcow2
    expect_rrc 0 "clean image -r $mode"
    expect_unchanged base.qcow2 clean.qcow2 "clean image -r $mode"
    expect_fixed "0 0" "clean image -r $mode"
done

# L2 entry cleared: the data cluster leaks. The guest data at 1M is gone
# with the entry (the damage did that), so the twin is the damaged image's
# guest view, read before any repair.
cp base.qcow2 cleared.qcow2
H=$(cluster_of "$(poke cleared.qcow2 get host 0x100000)")
poke cleared.qcow2 l2 0x100000 0
qemu-img convert -O qcow2 cleared.qcow2 cleared-view.qcow2
for mode in leaks all; do
    repair_fixes cleared $mode cleared.qcow2 cleared-view.qcow2
    expect_fixed "1 0" "cleared -r $mode"
    assert_eq 0 "$(refcount cleared.ours.qcow2 "$H")" "refcount of the freed cluster"
done

# An extra cluster appended with refcount 1: freed, the file keeps its size
# (as qemu-img: no truncation).
cp base.qcow2 appended.qcow2
N=$(poke appended.qcow2 get clusters)
truncate -s +65536 appended.qcow2
poke appended.qcow2 refcount "$N" 1
for mode in leaks all; do
    repair_fixes appended $mode appended.qcow2 base.qcow2
    expect_fixed "1 0" "appended -r $mode"
    assert_eq "$(stat -c %s appended.qcow2)" "$(stat -c %s appended.ours.qcow2)" "file size after freeing the appended cluster"
done

# Refcount 2 on a data cluster (the COPIED error goes with it: consistent
# again once the refcount is 1), on the L2 table, on the refcount block.
for c in "$D" "$L2" "$B"; do
    cp base.qcow2 high$c.qcow2
    poke high$c.qcow2 refcount "$c" 2
    for mode in leaks all; do
        repair_fixes high$c $mode high$c.qcow2 base.qcow2
        expect_fixed "1 0" "cluster $c refcount 2 -r $mode"
        assert_eq 1 "$(refcount high$c.ours.qcow2 "$c")" "refcount of cluster $c after -r $mode"
    done
done

# Refcount 3 on the header, the L1 table, the refcount table.
for c in 0 "$L1" "$RT"; do
    cp base.qcow2 meta$c.qcow2
    poke meta$c.qcow2 refcount "$c" 3
    for mode in leaks all; do
        repair_fixes meta$c $mode meta$c.qcow2 base.qcow2
        expect_fixed "1 0" "cluster $c refcount 3 -r $mode"
    done
done

# Two leaks in a 512-byte-cluster image.
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 1M
qemu-io -c 'write -P 1 0 4k' -c 'write -P 2 512k 1k' small.qcow2 >/dev/null
cp small.qcow2 small-leaks.qcow2
N=$(poke small-leaks.qcow2 get clusters)
truncate -s +512 small-leaks.qcow2
poke small-leaks.qcow2 refcount "$N" 1
poke small-leaks.qcow2 refcount "$(( $(poke small.qcow2 get host 0) / 512 ))" 2
for mode in leaks all; do
    repair_fixes small-leaks $mode small-leaks.qcow2 small.qcow2
    expect_fixed "2 0" "512-byte clusters -r $mode"
done

# Every refcount width: an appended leak, and a data cluster at the maximum
# refcount of the width (a leak plus the COPIED error).
for bits in 1 2 4 8 32 64; do
    mkbase w$bits.qcow2 -o refcount_bits=$bits
    cp w$bits.qcow2 w$bits-leak.qcow2
    N=$(poke w$bits-leak.qcow2 get clusters)
    truncate -s +65536 w$bits-leak.qcow2
    poke w$bits-leak.qcow2 refcount "$N" 1
    repair_fixes w$bits-leak all w$bits-leak.qcow2 w$bits.qcow2
    cp w$bits.qcow2 w$bits-max.qcow2
    if [ "$bits" = 64 ]; then max=0xffffffffffffffff; else max=$(( (1 << bits) - 1 )); fi
    poke w$bits-max.qcow2 refcount "$D" "$max"
    if [ "$bits" -gt 1 ]; then # with 1 bit the maximum is the right refcount
        repair_fixes w$bits-max leaks w$bits-max.qcow2 w$bits.qcow2
        assert_eq 1 "$(refcount w$bits-max.ours.qcow2 "$D")" "refcount after -r leaks, refcount_bits=$bits"
    fi
done

# The dirty bit with a leak: both repairs clear the bit with the leak.
cp base.qcow2 dirty.qcow2
poke dirty.qcow2 header incompatible_features --or 1
poke dirty.qcow2 refcount "$D" 2
for mode in leaks all; do
    repair_fixes dirty $mode dirty.qcow2 base.qcow2
    soft_eq 0 "$(poke dirty.ours.qcow2 get header incompatible_features)" "incompatible_features after -r $mode"
done
finish
