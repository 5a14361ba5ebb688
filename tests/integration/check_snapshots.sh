#!/bin/bash
# Internal snapshot damage: L1 offset unaligned and beyond EOF, L1 size too
# large, an L1 entry beyond EOF, reserved bits in a snapshot-only L2 table,
# an incomplete snapshot table, and too much extra data (qemu-img cannot
# check that image; we do) (behaviour doc 6.15, 6.13).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

# Two snapshots; guest 0 rewritten after each.
mkbase base.qcow2
qemu-img snapshot -c s1 base.qcow2
qemu-io -c 'write -P 0x77 0 64k' base.qcow2 >/dev/null
qemu-img snapshot -c s2 base.qcow2
qemu-io -c 'write -P 0x88 0 64k' base.qcow2 >/dev/null
compare_full base.qcow2
expect_kinds base.qcow2
E0=$(poke base.qcow2 get header snapshots_offset)
# Snapshot table entry 1 follows entry 0 (40 bytes, extra data, id, name; 8-byte aligned).
E1=$(( E0 + (40 + $(poke base.qcow2 get snapshot 0 extra_data_size) + $(poke base.qcow2 get snapshot 0 id_str_size) +
             $(poke base.qcow2 get snapshot 0 name_size) + 7) / 8 * 8 ))

for n in 0 1; do
    id=$((n + 1))
    SL1=$(poke base.qcow2 get snapshot $n l1_table_offset)

    cp base.qcow2 unaligned.qcow2
    poke unaligned.qcow2 snapshot $n l1_table_offset --or 0x200
    compare_full unaligned.qcow2
    expect_count unaligned.qcow2 snapshot-l1-unaligned 1
    expect_located unaligned.qcow2 snapshot-l1-unaligned snapshot=$id severity=corruption
    expect_located unaligned.qcow2 snapshot-l1-unaligned snapshot=$id host-offset=$((n == 0 ? E0 : E1))
    # the snapshot's L1 table is no longer referenced
    expect_located unaligned.qcow2 refcount-too-high cluster=$((SL1 / 65536)) references=0

    cp base.qcow2 beyond.qcow2
    poke beyond.qcow2 snapshot $n l1_table_offset 0x1000000
    compare_full beyond.qcow2
    expect_located beyond.qcow2 beyond-end-of-file host-offset=0x1000000 snapshot=$id

    cp base.qcow2 large.qcow2
    poke large.qcow2 snapshot $n l1_size 0x400001
    compare_full large.qcow2
    expect_count large.qcow2 snapshot-l1-too-large 1
    expect_located large.qcow2 snapshot-l1-too-large snapshot=$id

    cp base.qcow2 l1entry.qcow2
    poke l1entry.qcow2 snapshot-l1 $n 0 0x1000000
    compare_full l1entry.qcow2
    expect_located l1entry.qcow2 beyond-end-of-file host-offset=0x1000000 snapshot=$id l1-index=0

    # Reserved bit 56 in the snapshot-only L2 table's entry for guest 0.
    cp base.qcow2 l2reserved.qcow2
    SL2=$(( $(poke l2reserved.qcow2 get snapshot-l1 $n 0) & 0x00fffffffffffe00 ))
    [ "$SL2" != "$(poke l2reserved.qcow2 get l2-table-offset 0)" ] || fail "snapshot L2 table is shared"
    poke_u64 l2reserved.qcow2 "$SL2" --or 0x0100000000000000
    compare_full l2reserved.qcow2
    expect_kinds l2reserved.qcow2 l2-reserved-bits
    expect_located l2reserved.qcow2 l2-reserved-bits snapshot=$id l1-index=0 l2-index=0 guest-offset=0 \
        host-offset="$SL2"
done

# nb_snapshots 1 with no snapshot table (snapshots_offset 0).
mkbase plain.qcow2
cp plain.qcow2 incomplete.qcow2
poke incomplete.qcow2 header nb_snapshots 1
compare_full incomplete.qcow2
expect_located incomplete.qcow2 snapshot-table-damaged severity=corruption host-offset=0

# Too much extra data in snapshot 2's entry: qemu-img's check fails (exit 1,
# no JSON); we report the damaged table and check the rest.
cp base.qcow2 extra.qcow2
poke extra.qcow2 snapshot 1 extra_data_size 2000
qrc=0
qemu-img check extra.qcow2 > /dev/null 2> qemu-extra.err || qrc=$?
assert_eq 1 "$qrc" "qemu-img check exit code on too much snapshot extra data"
grep -q 'Too much extra metadata in snapshot table entry 1' qemu-extra.err || fail "qemu-img message: $(cat qemu-extra.err)"
pass
expect_exit 2 extra.qcow2
expect_count extra.qcow2 snapshot-table-damaged 1 severity=corruption
expect_located extra.qcow2 snapshot-table-damaged host-offset="$E1"
finish
