#!/bin/bash
# Repairing OFLAG_COPIED and shared clusters (behaviour doc 6.9, 6.10).
# COPIED missing or extra in L1 and L2 entries: both modes fix it as
# qemu-img does (-r leaks only when nothing else is wrong). Clusters used
# twice: qemu-img -r all raises the refcount to 2 and clears COPIED, so the
# guest keeps seeing one cluster through two addresses (and, for the L1 or
# refcount table, metadata as data); we refuse with an explanation and
# write nothing. A data entry pointing at the refcount block is rebuilt
# around by both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2

# COPIED missing (refcount 1) and extra (refcount 2, after a snapshot).
cp base.qcow2 l1-missing.qcow2
poke l1-missing.qcow2 l1 0 --and-not 0x8000000000000000
cp base.qcow2 l2-missing.qcow2
poke l2-missing.qcow2 l2 0 --and-not 0x8000000000000000
cp snap.qcow2 l1-extra.qcow2
poke l1-extra.qcow2 l1 0 --or 0x8000000000000000
cp snap.qcow2 l2-extra.qcow2
poke l2-extra.qcow2 l2 0 --or 0x8000000000000000
for name in l1-missing l2-missing l1-extra l2-extra; do
    case $name in *extra) twin=snap.qcow2 ;; *) twin=base.qcow2 ;; esac
    for mode in leaks all; do
        repair_fixes $name $mode $name.qcow2 $twin
        expect_fixed "0 1" "$name -r $mode"
    done
done
assert_eq "$(poke --hex base.qcow2 get l1 0)" "$(poke --hex l1-missing.ours.qcow2 get l1 0)" "L1 entry after the COPIED fix"
assert_eq "$(poke --hex base.qcow2 get l2 0)" "$(poke --hex l2-missing.ours.qcow2 get l2 0)" "L2 entry after the COPIED fix"

# COPIED missing next to something -r leaks cannot fix (a reserved bit in
# another entry): -r leaks leaves COPIED too, as qemu-img; -r all fixes it.
cp l2-missing.qcow2 mixed.qcow2
poke mixed.qcow2 l2 0x100000 --or 0x100
repair_leaves mixed leaks mixed.qcow2
repair_both mixed all mixed.qcow2
expect_rrc 2 "COPIED missing and a reserved bit -r all"
expect_fixed "0 1" "COPIED missing and a reserved bit -r all"
assert_eq "$(fixed qemu-repair.json)" "$(fixed ours-repair.json)" "-fixed counts against qemu-img's"
assert_eq "$(poke --hex base.qcow2 get l2 0)" "$(poke --hex mixed.ours.qcow2 get l2 0)" "L2 entry after -r all"
expect_refused "left alone: ERROR found l2 entry with reserved bits set" "COPIED missing and a reserved bit -r all"

# Two and three L2 entries pointing at one data cluster; a data entry
# pointing at the L1 table, the refcount table, its own L2 table.
E0=$(poke --hex base.qcow2 get l2 0)
declare -A TARGET=(
    [shared2]="$E0" [l1]="0x8000000000030000" [reftable]="0x8000000000010000" [ownl2]="0x8000000000040000")
for name in shared2 shared3 l1 reftable ownl2; do
    cp base.qcow2 $name.qcow2
    if [ $name = shared3 ]; then
        poke $name.qcow2 l2 0x10000 "$E0"
        poke $name.qcow2 l2 0x20000 "$E0"
    else
        poke $name.qcow2 l2 0x10000 "${TARGET[$name]}"
    fi
    C=$(cluster_of $(( $(poke $name.qcow2 get l2 0x10000) & 0xffffffffffe00 )))
    for mode in leaks all; do
        repair_leaves $name $mode $name.qcow2
        expect_refused "left alone: cluster $C .*contradicting users" "$name -r $mode"
    done
    # qemu-img -r all "fixes" it by sharing: clean, and the guest reads
    # what it read before (metadata included) -- except when the shared
    # cluster is the L2 table itself: clearing COPIED in it rewrites what
    # the guest reads at 64k.
    expect_qemu_clean $name.qemu.qcow2 "$name (qemu-img -r all)"
    if [ $name = ownl2 ]; then
        expect_other_guest $name.qcow2 $name.qemu.qcow2 "$name (qemu-img -r all changes guest data)"
    else
        expect_same_guest $name.qcow2 $name.qemu.qcow2 "$name (qemu-img -r all)"
    fi
    assert_eq "$([ $name = shared3 ] && echo 3 || echo 2)" "$(refcount $name.qemu.qcow2 "$C")" "qemu-img raised cluster $C's refcount"
done

# A data entry pointing at the refcount block: both rebuild the refcount
# structure elsewhere; the old block stays as the (odd) guest data.
cp base.qcow2 refblock.qcow2
poke refblock.qcow2 l2 0x10000 0x8000000000020000
repair_leaves refblock leaks refblock.qcow2
# Rebuilt; the refcount block's own corruption ("refcount block 0
# refcount=2") counts as fixed, as the refcount fix does.
repair_fixes refblock all refblock.qcow2 refblock.qcow2
finish
