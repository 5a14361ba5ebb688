#!/bin/bash
# Repairing damaged L1 entries (behaviour doc 6.8): unaligned, beyond the
# end of the file, reserved bits. None of them is repairable; what matters
# is what a repair does around them:
#  * unaligned (0x40200): the "L2 table" read from there ends in the first
#    512 bytes of guest 0's data cluster. qemu-img -r all turns those 64
#    "entries" into plain zero entries, i.e. writes over guest data, and
#    -r leaks/-r all free the now unreferenced data clusters of guest 1M.
#    We must write nothing into a cluster that is not a real L2 table and
#    keep the orphans, so putting the L1 entry right restores everything.
#  * beyond EOF: qemu-img frees (discards) the L2 table and all the data;
#    we keep them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
ORIG=$(poke --hex base.qcow2 get l1 0)
L2=$(poke base.qcow2 get l2-table-offset 0)
D=$(poke base.qcow2 get host 0)

# Unaligned.
cp base.qcow2 unaligned.qcow2
poke unaligned.qcow2 l1 0 --or 0x200
for mode in leaks all; do
    repair_both unaligned $mode unaligned.qcow2
    expect_refused "left alone: ERROR l2_offset=$(printf %x $((L2 + 0x200))): Table is not cluster aligned" "unaligned L1 entry -r $mode"
    # The data cluster of guest 0 holds guest data, not L2 entries.
    soft_eq "$(host_digest base.qcow2 "$D" 512)" "$(host_digest unaligned.ours.qcow2 "$D" 512)" \
        "unaligned L1 entry -r $mode: guest 0's data cluster (host $D) after our repair"
    for c in 6 7; do
        soft_eq 1 "$(refcount unaligned.ours.qcow2 $c)" "unaligned L1 entry -r $mode: refcount of orphaned data cluster $c"
    done
    poke unaligned.ours.qcow2 l1 0 "$ORIG"
    poke unaligned.qemu.qcow2 l1 0 "$ORIG"
    soft_same_guest base.qcow2 unaligned.ours.qcow2 "unaligned L1 entry put right after our -r $mode"
    expect_qemu_clean unaligned.ours.qcow2 "unaligned L1 entry put right after our -r $mode"
    # qemu-img: the orphans were freed (and discarded) ...
    expect_other_guest base.qcow2 unaligned.qemu.qcow2 "unaligned L1 entry put right after qemu-img's -r $mode (data lost)"
done
# ... and -r all also wrote over guest 0's data.
[ "$(host_bytes base.qcow2 "$D" 512)" != "$(host_bytes unaligned.qemu.qcow2 "$D" 512)" ] ||
    fail "qemu-img -r all no longer writes into guest 0's data cluster?"
pass

# Beyond the end of the file: the L2 table and the data clusters are orphans.
cp base.qcow2 beyond.qcow2
poke beyond.qcow2 l1 0 0x8000000001000000
for mode in leaks all; do
    repair_both beyond $mode beyond.qcow2
    expect_rrc 2 "L1 entry beyond EOF -r $mode"
    for c in 4 5 6 7; do
        expect_refused "kept: leaked cluster $c " "L1 entry beyond EOF -r $mode"
    done
    assert_eq 4 "$(jq '.["leaks-fixed"]' qemu-repair.json)" "qemu-img frees the L2 table and the data (-r $mode)"
    expect_no_new_errors beyond.qcow2 beyond.ours.qcow2 "L1 entry beyond EOF -r $mode"
    poke beyond.ours.qcow2 l1 0 "$ORIG"
    poke beyond.qemu.qcow2 l1 0 "$ORIG"
    expect_qemu_clean beyond.ours.qcow2 "L1 entry put right after our -r $mode"
    expect_same_guest base.qcow2 beyond.ours.qcow2 "L1 entry put right after our -r $mode"
    expect_other_guest base.qcow2 beyond.qemu.qcow2 "L1 entry put right after qemu-img's -r $mode (data lost)"
done

# Reserved bits: not repairable, nothing written, and we say why.
for bits in 0x0100000000000000 0x1 0x100; do
    cp base.qcow2 reserved.qcow2
    poke reserved.qcow2 l1 0 --or $bits
    for mode in leaks all; do
        repair_leaves reserved $mode reserved.qcow2
        expect_refused "left alone: ERROR found L1 entry with reserved bits set" "L1 reserved bits $bits -r $mode"
    done
done
finish
