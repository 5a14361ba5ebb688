#!/bin/bash
# Repairing damaged L2 entries (behaviour doc 6.7): data beyond the end of
# the file (far, and exactly at the file size), unaligned data, unaligned
# preallocated zero, reserved bits. What qemu-img repairs we repair the
# same way; where its repair loses data we keep it:
#  * an entry pointing past EOF orphans its data cluster; qemu-img frees
#    (and discards) the orphan, so putting the entry right later finds
#    zeros; we keep it allocated and say so.
#  * an unaligned data entry: qemu-img raises the neighbour's refcount to 2
#    and strips COPIED from the healthy entry; we leave the entry and the
#    cluster alone and say so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
G=0x110000                                  # guest 1M+64k: L1 index 0, L2 index 17
ORIG=$(poke --hex base.qcow2 get l2 $G)
H=$(cluster_of "$(poke base.qcow2 get host $G)")
SIZE=$(stat -c %s base.qcow2)

# restored NAME: NAME.ours.qcow2 and NAME.qemu.qcow2 with the entry for G
# put back as it was before the damage.
restore_entry() {
    poke "$1.ours.qcow2" l2 $G "$ORIG"
    poke "$1.qemu.qcow2" l2 $G "$ORIG"
}

# Beyond the end of the file, far and exactly at the file size.
for target in 0x8000000001000000 "$(printf 0x%x $(( (1 << 63) | SIZE )))"; do
    cp base.qcow2 beyond.qcow2
    poke beyond.qcow2 l2 $G "$target"
    for mode in leaks all; do
        repair_both beyond $mode beyond.qcow2
        expect_rrc 2 "entry $target -r $mode"     # the entry itself is not fixable
        expect_refused "kept: leaked cluster $H " "entry $target -r $mode"
        expect_refused "left alone: ERROR: counting reference .* offset $(printf '%#x' $((target & 0xffffffffffff)))" \
            "entry $target -r $mode"
        assert_eq 1 "$(refcount beyond.ours.qcow2 "$H")" "the orphaned cluster's refcount after -r $mode"
        expect_same_guest beyond.qcow2 beyond.ours.qcow2 "entry $target -r $mode: guest view as before"
        expect_no_new_errors beyond.qcow2 beyond.ours.qcow2 "entry $target -r $mode"
        # qemu-img frees the orphan: leaks-fixed 1
        assert_eq 1 "$(jq '.["leaks-fixed"]' qemu-repair.json)" "qemu-img frees the orphaned cluster (-r $mode)"
        # Put the entry right: ours is whole again, qemu-img's lost the data.
        restore_entry beyond
        expect_qemu_clean beyond.ours.qcow2 "entry restored after our -r $mode"
        expect_same_guest base.qcow2 beyond.ours.qcow2 "entry restored after our -r $mode"
        [ "$(qemu_rc beyond.qemu.qcow2)" = 2 ] || fail "qemu-img's -r $mode did not lose the cluster?"
        pass
        expect_other_guest base.qcow2 beyond.qemu.qcow2 "entry restored after qemu-img's -r $mode (data lost)"
    done
done

# Unaligned data cluster (guest 0, touches host clusters 5 and 6): neither
# mode changes anything of ours; qemu-img -r all raises cluster 6 to 2 and
# clears COPIED on the healthy entry for 1M.
cp base.qcow2 unaligned.qcow2
poke unaligned.qcow2 l2 0 --or 0x200
for mode in leaks all; do
    repair_both unaligned $mode unaligned.qcow2
    expect_rrc 2 "unaligned data -r $mode"
    expect_unchanged unaligned.qcow2 unaligned.ours.qcow2 "unaligned data -r $mode"
    expect_refused "left alone: ERROR offset=50200: Data cluster is not properly aligned" "unaligned data -r $mode"
    expect_refused "left alone: cluster 6 .*contradicting users" "unaligned data -r $mode"
done
assert_eq 2 "$(refcount unaligned.qemu.qcow2 6)" "qemu-img -r all raised the neighbour's refcount"
poke unaligned.ours.qcow2 l2 0 --and-not 0x200
poke unaligned.qemu.qcow2 l2 0 --and-not 0x200
expect_qemu_clean unaligned.ours.qcow2 "unaligned entry put right after ours"
expect_same_guest base.qcow2 unaligned.ours.qcow2 "unaligned entry put right after ours"
[ "$(qemu_rc unaligned.qemu.qcow2)" != 0 ] || fail "qemu-img's -r all left no trace?"
pass

# Unaligned preallocated zero cluster (guest 0: 0x50201, touches clusters 5
# and 6). Both make it a plain zero cluster (the guest read zeros and still
# does). qemu-img then frees cluster 5 and discards it: the 0x11 data the
# entry pointed at before the damage is gone. We keep cluster 5 allocated
# (one leak left, exit 3) and say so.
qemu-img convert -O qcow2 base.qcow2 zero0.qcow2
qemu-io -c 'write -z 0 64k' zero0.qcow2 >/dev/null
cp base.qcow2 prealloc.qcow2
poke prealloc.qcow2 l2 0 --or 0x201
repair_leaves prealloc leaks prealloc.qcow2
repair_both prealloc all prealloc.qcow2
expect_rrc 3 "unaligned preallocated zero -r all (the orphan kept)"
expect_refused "kept: leaked cluster 5 " "unaligned preallocated zero -r all"
expect_qemu_rc 3 prealloc.ours.qcow2 "unaligned preallocated zero -r all: only the kept leak"
expect_same_guest zero0.qcow2 prealloc.ours.qcow2 "unaligned preallocated zero -r all"
assert_eq "$(host_bytes base.qcow2 0x50000 4096)" "$(host_bytes prealloc.ours.qcow2 0x50000 4096)" "the orphaned cluster's bytes (ours)"
expect_qemu_clean prealloc.qemu.qcow2 "unaligned preallocated zero (qemu-img)"
expect_same_guest zero0.qcow2 prealloc.qemu.qcow2 "unaligned preallocated zero (qemu-img)"
assert_eq "$(printf '%08192d' 0)" "$(host_bytes prealloc.qemu.qcow2 0x50000 4096)" "qemu-img discarded the orphaned cluster"
# The same at the end of the file: the offset reaches one cluster past EOF
# (cluster 8: refcount 0, a rebuild), no neighbour is involved.
cp base.qcow2 prealloc-end.qcow2
poke prealloc-end.qcow2 l2 $G --or 0x201
qemu-img convert -O qcow2 base.qcow2 zeroG.qcow2
qemu-io -c "write -z $G 64k" zeroG.qcow2 >/dev/null
repair_both prealloc-end all prealloc-end.qcow2
expect_rrc 0 "unaligned preallocated zero at the end -r all"
expect_qemu_clean prealloc-end.ours.qcow2 "unaligned preallocated zero at the end -r all"
expect_same_guest zeroG.qcow2 prealloc-end.ours.qcow2 "unaligned preallocated zero at the end -r all"
expect_qemu_clean prealloc-end.qemu.qcow2 "unaligned preallocated zero at the end (qemu-img)"

# Reserved bits on an allocated and on an unallocated entry: not repairable;
# nothing written, and we say why.
for bits in 0x0100000000000000 0x2000000000000000 0x2 0x100; do
    cp base.qcow2 reserved.qcow2
    poke reserved.qcow2 l2 $G --or $bits
    for mode in leaks all; do
        repair_leaves reserved $mode reserved.qcow2
        expect_refused "left alone: ERROR found l2 entry with reserved bits set" "reserved bits $bits -r $mode"
        expect_same_guest reserved.qcow2 reserved.ours.qcow2 "reserved bits $bits -r $mode"
    done
done
cp base.qcow2 reserved-unalloc.qcow2
poke reserved-unalloc.qcow2 l2 0x200000 0x2
repair_leaves reserved-unalloc all reserved-unalloc.qcow2
expect_refused "left alone: ERROR found l2 entry with reserved bits set: 2 " "reserved bits on an unallocated entry"
finish
