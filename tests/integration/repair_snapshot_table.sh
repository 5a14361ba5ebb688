#!/bin/bash
# -r all rewrites a damaged internal snapshot table as qemu-img check -r all
# does (lib/repair/snapshot_table.hpp): too much extra data in an entry (the
# last one, and the first, where qemu reads the rest of the table from the
# wrong place), incomplete version 3 entries, more than 65536 snapshots, a
# table above 64 MiB. For each: our repair ends with a clean qemu-img check,
# the snapshot table qemu-img's repair writes (byte for byte), so the same
# `qemu-img snapshot -l`, qemu's -fixed counts, the twin's guest view and the
# kept snapshots' contents; a dry run changes nothing; the undo file gives
# the damaged file back byte for byte; a crash after any write leaves an
# image no worse than the damaged one that a second run repairs. -r leaks
# changes nothing a snapshot uses. A table reaching past the end of the file
# or overlapping other metadata is left alone (qemu-img turns what it reads
# there into empty snapshots and frees the real ones' clusters).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

# Snapshots s1 and s2 with guest writes after each (shared and own clusters).
mkbase snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
qemu-io -c 'write -P 0x33 0 64k' snap.qcow2 >/dev/null
qemu-img snapshot -c s2 snap.qcow2
qemu-io -c 'write -P 0x44 1M 64k' snap.qcow2 >/dev/null
for s in s1 s2; do qemu-img convert -O raw -l "snapshot.name=$s" snap.qcow2 twin-$s.raw; done

# snapshots_kept IMAGE WHAT: every snapshot named s1/s2 in IMAGE reads as in
# the twin.
snapshots_kept() {
    local s
    for s in s1 s2; do
        snapshot_list "$1" | grep -qE "^[0-9]+ +$s " || continue
        qemu-img convert -U -O raw -l "snapshot.name=$s" "$1" now.raw
        cmp -s now.raw twin-$s.raw || fail "$2: snapshot $s differs from the twin's"
        pass
    done
}

# like_qemu NAME DAMAGED: -r all by us and by qemu-img on copies of DAMAGED.
like_qemu() {
    local name=$1 damaged=$2
    repair_both "$name" all "$damaged"
    expect_rrc 0 "$name -r all"
    expect_qemu_clean "$name.ours.qcow2" "$name -r all (ours)"
    expect_qemu_clean "$name.qemu.qcow2" "$name -r all (qemu-img, the oracle)"
    assert_eq "$(snapshot_table_bytes "$name.qemu.qcow2")" "$(snapshot_table_bytes "$name.ours.qcow2")" \
        "$name: the snapshot table written (entries, checksum) against qemu-img's"
    assert_eq "$(snapshot_list "$name.qemu.qcow2")" "$(snapshot_list "$name.ours.qcow2")" "$name: qemu-img snapshot -l"
    soft_eq "$(fixed qemu-repair.json)" "$(fixed ours-repair.json)" "$name -r all: -fixed counts against qemu-img's"
    expect_same_guest snap.qcow2 "$name.ours.qcow2" "$name -r all (ours)"
    snapshots_kept "$name.ours.qcow2" "$name -r all (ours)"
    jq -e '.notes | length > 0' ours-repair.json >/dev/null || fail "$name: no note of what the rewrite did"
    pass
}

# undo_and_dry_run NAME DAMAGED: a dry run changes nothing; the undo file
# restores the damaged file byte for byte.
undo_and_dry_run() {
    local name=$1 damaged=$2 rc=0
    cp "$damaged" dry.qcow2
    "$REPAIR" -r all --dry-run dry.qcow2 > dry.txt 2> dry.err || rc=$?
    expect_unchanged "$damaged" dry.qcow2 "$name --dry-run"
    grep -q 'header nb_snapshots and snapshots_offset' dry.txt || fail "$name --dry-run: no header switch listed"
    pass
    cp "$damaged" undone.qcow2
    rm -f undo.bin
    our_repair all undone.qcow2 --undo-file=undo.bin
    expect_rrc 0 "$name -r all --undo-file"
    "$REPAIR" --undo undo.bin undone.qcow2 > /dev/null || fail "$name: --undo failed"
    expect_unchanged "$damaged" undone.qcow2 "$name --undo"
}

# Too much extra data in the last entry: its id and name are lost (qemu
# reads them after the 2000 bytes), its clusters kept.
cp snap.qcow2 extra1.qcow2
poke extra1.qcow2 snapshot 1 extra_data_size 2000
like_qemu extra1 extra1.qcow2
assert_eq "0 1" "$(fixed ours-repair.json)" "extra1: -fixed counts"
grep -q 'Discarding too much extra metadata in snapshot table entry 1 (2000 > 1024)' ours-repair.err ||
    fail "extra1: no 'Discarding too much extra metadata' line: $(head -c 400 ours-repair.err)"
pass
undo_and_dry_run extra1 extra1.qcow2
expect_crash_safe all extra1.qcow2 snap.qcow2

# ... in the first entry: the second is read from the wrong place, so s2 is
# gone and its own clusters are leaks that the repair frees (as qemu-img).
cp snap.qcow2 extra0.qcow2
poke extra0.qcow2 snapshot 0 extra_data_size 2000
like_qemu extra0 extra0.qcow2
assert_eq "5 3" "$(fixed ours-repair.json)" "extra0: -fixed counts"
undo_and_dry_run extra0 extra0.qcow2
CRASH_BENIGN_COPIED=1 expect_crash_safe all extra0.qcow2 snap.qcow2

# Incomplete version 3 entries (no extra data; 8 bytes of it).
cp snap.qcow2 inc.qcow2
snaptable inc.qcow2 extra 1 0 > /dev/null
poke inc.qcow2 snapshot 1 vm_state_size 1234
cp snap.qcow2 inc8.qcow2
snaptable inc8.qcow2 extra 0 8 extra 1 8 > /dev/null
for name in inc inc8; do
    like_qemu $name $name.qcow2
    assert_eq "0 $([ $name = inc ] && echo 1 || echo 2)" "$(fixed ours-repair.json)" "$name: -fixed counts"
    undo_and_dry_run $name $name.qcow2
    # -r leaks leaves the table alone, and says so.
    repair_leaves $name leaks $name.qcow2
    expect_refused "left alone: ERROR snapshot table entry 1 is incomplete" "$name -r leaks"
done
expect_crash_safe all inc.qcow2 snap.qcow2

# More than 65536 snapshots: the overhanging ones are dropped (s2, then s1
# and s2), their clusters freed as leaks.
cp snap.qcow2 many.qcow2
snaptable many.qcow2 dummies 65535 > /dev/null
cp snap.qcow2 many2.qcow2
snaptable many2.qcow2 dummies 65536 > /dev/null
like_qemu many many.qcow2
assert_eq "5 2" "$(fixed ours-repair.json)" "many: -fixed counts"
grep -q 'Discarding 1 overhanging snapshots' ours-repair.err || fail "many: no 'Discarding 1 overhanging snapshots' line"
pass
like_qemu many2 many2.qcow2
# imgmend-check reports what qemu-img check cannot open.
ours many.qcow2
expect_exit 2 many.qcow2
expect_located many.qcow2 snapshot-table-damaged severity=corruption
# -r leaks keeps every cluster the unreadable table's snapshots may use.
repair_both many leaks many.qcow2
expect_rrc 2 "many -r leaks"
expect_refused "left alone: ERROR snapshot table: Too many snapshots: 65537" "many -r leaks"
for c in 8 12; do # the snapshots' L1 tables
    assert_eq 1 "$(refcount many.ours.qcow2 $c)" "many -r leaks: refcount of cluster $c"
done
undo_and_dry_run many many.qcow2
# (Its crash safety is extra0's: the same rewrite and leak repair, and
# qemu-img is slow on 65536 snapshots.)

# A table above 64 MiB (ids and names of 65535 bytes): the entries past it
# are dropped, and so are the old table's clusters that only they used.
cp snap.qcow2 big.qcow2
snaptable big.qcow2 dummies 515 BIG > /dev/null
like_qemu big big.qcow2
assert_eq "16 8" "$(fixed ours-repair.json)" "big: -fixed counts"

# Left alone: a table reaching past the end of the file (nb_snapshots one
# too many, the table last in the file) ...
cp extra1.qemu.qcow2 eof.qcow2
poke eof.qcow2 header nb_snapshots 3
repair_leaves eof all eof.qcow2
expect_refused "left alone: the snapshot table at 0x[0-9a-f]+: snapshot table entry 2 .* extends beyond end of file" "eof -r all"
# ... and a table overlapping the header (nb_snapshots 1, no table).
cp snap.qcow2 hdr.qcow2
poke hdr.qcow2 header nb_snapshots 1
poke hdr.qcow2 header snapshots_offset 0
repair_leaves hdr all hdr.qcow2
expect_refused "left alone: the snapshot table at 0x0: it shares cluster 0" "hdr -r all"
finish
