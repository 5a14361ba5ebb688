#!/bin/bash
# Repairing images whose internal snapshot table is damaged (behaviour doc
# 6.15, 6.13): a snapshot L1 offset unaligned or beyond EOF, an L1 size too
# large, a snapshot L1 entry beyond EOF, too much extra data, an incomplete
# table. None of the snapshot entries is repairable by -r leaks; what
# matters is that a repair does not destroy the snapshot's data while its
# table entry cannot be read:
#  * qemu-img frees every cluster only the unreadable snapshot uses (and
#    lowers the refcounts it shares with the active image, setting COPIED so
#    that the next guest write goes in place), so putting the entry right
#    afterwards finds a snapshot without its data.
#  * we must keep all of it: putting the entry right gives back a clean
#    image whose snapshot reads as it did, even after a guest write.
# Too much extra data is the exception: qemu-img -r all rewrites the table
# and keeps the snapshot's clusters, and so do we.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

# Snapshot s1 of the base image, then guest 0 rewritten.
mkbase base.qcow2
cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
qemu-io -c 'write -P 0x33 0 64k' snap.qcow2 >/dev/null
qemu-img convert -O raw base.qcow2 s1.raw
SL1=$(poke --hex snap.qcow2 get snapshot 0 l1_table_offset)

# snapshot_intact IMAGE WHAT: IMAGE is clean and its snapshot s1 reads as
# the base image did, also after a guest write over the shared data at 1M.
snapshot_intact() {
    local rc
    rc=$(qemu_rc "$1")
    soft_eq 0 "$rc" "$2: qemu-img check exit code ($(grep -m1 ERROR qemu-after.txt || true))"
    qemu-img convert -O raw -l s1 "$1" now.raw 2>/dev/null || true
    soft_eq same "$(cmp -s now.raw s1.raw && echo same || echo different)" "$2: snapshot s1"
    qemu-io -c 'write -P 0x66 1M 64k' "$1" >/dev/null 2>&1 || true
    qemu-img convert -O raw -l s1 "$1" now.raw 2>/dev/null || true
    soft_eq same "$(cmp -s now.raw s1.raw && echo same || echo different)" "$2: snapshot s1 after a guest write at 1M"
}

# L1 offset unaligned and beyond EOF.
for damage in "l1_table_offset --or 0x200" "l1_table_offset 0x1000000"; do
    cp snap.qcow2 d.qcow2
    poke d.qcow2 snapshot 0 $damage
    for mode in leaks all; do
        repair_both sl1 $mode d.qcow2
        expect_rrc 2 "snapshot $damage -r $mode"
        expect_refused "left alone: ERROR" "snapshot $damage -r $mode"
        expect_same_guest snap.qcow2 sl1.ours.qcow2 "snapshot $damage -r $mode: the active guest view"
        expect_no_new_errors d.qcow2 sl1.ours.qcow2 "snapshot $damage -r $mode"
        poke sl1.ours.qcow2 snapshot 0 l1_table_offset "$SL1"
        snapshot_intact sl1.ours.qcow2 "snapshot $damage put right after our -r $mode"
        # qemu-img: the snapshot lost its clusters.
        poke sl1.qemu.qcow2 snapshot 0 l1_table_offset "$SL1"
        [ "$(qemu_rc sl1.qemu.qcow2)" != 0 ] || fail "snapshot $damage: qemu-img -r $mode kept the snapshot?"
        pass
    done
done

# A snapshot L1 entry beyond EOF: the snapshot's L2 table and its own data
# are orphans.
cp snap.qcow2 d.qcow2
ORIG=$(poke --hex d.qcow2 get snapshot-l1 0 0)
poke d.qcow2 snapshot-l1 0 0 0x1000000
for mode in leaks all; do
    repair_both sl1e $mode d.qcow2
    expect_rrc 2 "snapshot L1 entry beyond EOF -r $mode"
    expect_same_guest snap.qcow2 sl1e.ours.qcow2 "snapshot L1 entry beyond EOF -r $mode"
    poke sl1e.ours.qcow2 snapshot-l1 0 0 "$ORIG"
    snapshot_intact sl1e.ours.qcow2 "snapshot L1 entry put right after our -r $mode"
done

# L1 size too large: qemu-img -r all fails (metadata overlap); ours must not
# fail that way, nor touch the snapshot's clusters.
cp snap.qcow2 d.qcow2
poke d.qcow2 snapshot 0 l1_size 0x400001
for mode in leaks all; do
    repair_both big $mode d.qcow2
    expect_rrc 2 "snapshot l1_size too large -r $mode"
    expect_refused "left alone: ERROR snapshot 1 \\(s1\\) l1_size=0x400001" "snapshot l1_size too large -r $mode"
    expect_same_guest snap.qcow2 big.ours.qcow2 "snapshot l1_size too large -r $mode"
    poke big.ours.qcow2 snapshot 0 l1_size 1
    snapshot_intact big.ours.qcow2 "snapshot l1_size put right after our -r $mode"
done
assert_eq 1 "$QRC" "qemu-img -r all with a snapshot l1_size too large"

# Too much extra data (2000 bytes): -r all rewrites the table as qemu-img
# -r all does (its id and name come out empty: they are read after the 2000
# bytes; repair_snapshot_table.sh has the details) and keeps the snapshot's
# clusters; -r leaks (qemu-img's fails) leaves the table and keeps
# everything it may reference.
cp snap.qcow2 d.qcow2
ST=$(poke d.qcow2 get header snapshots_offset)
poke d.qcow2 snapshot 0 extra_data_size 2000
repair_both extra all d.qcow2
expect_rrc 0 "too much extra data -r all"
expect_qemu_clean extra.qemu.qcow2 "too much extra data (qemu-img -r all)"
expect_qemu_clean extra.ours.qcow2 "too much extra data (our -r all)"
assert_eq "$(snapshot_list extra.qemu.qcow2)" "$(snapshot_list extra.ours.qcow2)" "too much extra data -r all: snapshot list"
for img in extra.qemu.qcow2 extra.ours.qcow2; do
    assert_eq 1 "$(refcount $img "$(cluster_of "$SL1")")" "$img keeps the snapshot's L1 table"
done
expect_same_guest snap.qcow2 extra.ours.qcow2 "too much extra data -r all"
repair_both extra leaks d.qcow2
expect_no_new_errors d.qcow2 extra.ours.qcow2 "too much extra data -r leaks"
for c in $(cluster_of "$ST") $(cluster_of "$SL1"); do
    soft_eq 1 "$(refcount extra.ours.qcow2 "$c")" "too much extra data -r leaks: refcount of cluster $c"
done

# nb_snapshots 1 with snapshots_offset 0 (the header read as the table):
# not repairable by either; nothing written.
cp base.qcow2 incomplete.qcow2
poke incomplete.qcow2 header nb_snapshots 1
for mode in leaks all; do
    repair_leaves incomplete $mode incomplete.qcow2
    expect_refused "left alone: cluster 0 .*contradicting users" "incomplete snapshot table -r $mode"
done
finish
