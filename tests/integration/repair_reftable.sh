#!/bin/bash
# Repairing refcount table damage (behaviour doc 6.5, 6.6): entry 0 zero,
# unaligned, with a reserved bit, beyond the end of the file; an unused
# entry beyond EOF or pointing at a data cluster; the table offset 0, beyond
# EOF, zero clusters. Every one ends clean with the guest data intact, also
# where qemu-img's repair fails (unaligned entry, reserved bit) or grows the
# file to 16 MiB / 4 GiB (bogus offsets): we rebuild inside the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
SIZE=$(stat -c %s base.qcow2)
REBUILT_MAX=$(( SIZE + 2 * 65536 )) # at most a new block and a new table appended

# rebuilt_ok NAME: our -r all rebuilt, ended clean with base's guest data,
# and grew the file by at most a block and a table.
rebuilt_ok() {
    expect_rrc 0 "$1 -r all"
    assert_eq true "$(jq -r '.["rebuilt-refcounts"]' ours-repair.json)" "$1: refcounts rebuilt"
    expect_qemu_clean "$1.ours.qcow2" "$1 -r all (ours)"
    expect_same_guest base.qcow2 "$1.ours.qcow2" "$1 -r all (ours)"
    [ "$(stat -c %s "$1.ours.qcow2")" -le "$REBUILT_MAX" ] ||
        fail "$1: the file grew to $(stat -c %s "$1.ours.qcow2") bytes"
    pass
}

# Entry 0 zero: every refcount reads 0. -r leaks: nothing (qemu: need to
# rebuild, exit 1); -r all rebuilds, as qemu-img.
cp base.qcow2 zero.qcow2
poke zero.qcow2 reftable 0 0
repair_leaves zero leaks zero.qcow2
assert_eq 1 "$QRC" "qemu-img -r leaks with reftable entry 0 zero"
repair_fixes zero all zero.qcow2 base.qcow2
rebuilt_ok zero

# Entry 0 unaligned: qemu-img's rebuild fails ("ERROR writing refblock",
# exit 1) and leaves the corrupt bit set; ours rebuilds.
cp base.qcow2 unaligned.qcow2
poke unaligned.qcow2 reftable 0 --or 0x200
repair_both unaligned all unaligned.qcow2
assert_eq 1 "$QRC" "qemu-img -r all with an unaligned reftable entry"
grep -q 'ERROR writing refblock' qemu-repair.err || fail "qemu-img's failure: $(cat qemu-repair.err)"
pass
rebuilt_ok unaligned
assert_eq 0 "$(poke unaligned.ours.qcow2 get header incompatible_features)" "incompatible_features after our rebuild"
# -r leaks cannot fix it and writes nothing (qemu-img sets the corrupt bit).
cp base.qcow2 unaligned-l.qcow2
poke unaligned-l.qcow2 reftable 0 --or 0x200
our_repair leaks unaligned-l.qcow2
[ "$RRC" != 0 ] || fail "-r leaks fixed an unaligned reftable entry"
pass
expect_unchanged unaligned.qcow2 unaligned-l.qcow2 "-r leaks with an unaligned reftable entry"

# Entry 0 with a reserved bit: qemu-img's rebuild fails (metadata overlap);
# ours rebuilds.
cp base.qcow2 reserved.qcow2
poke reserved.qcow2 reftable 0 --or 1
repair_leaves reserved leaks reserved.qcow2
repair_both reserved all reserved.qcow2
assert_eq 1 "$QRC" "qemu-img -r all with a reserved bit in the reftable entry"
rebuilt_ok reserved

# Entry 0 beyond the end of the file: qemu-img grows the file to 16 MiB
# ("Repairing refcount block 0 is outside image"); ours does not.
cp base.qcow2 beyond.qcow2
poke beyond.qcow2 reftable 0 0x1000000
repair_both beyond all beyond.qcow2
rebuilt_ok beyond
expect_qemu_clean beyond.qemu.qcow2 "reftable entry beyond EOF (qemu-img)"
assert_eq 16842752 "$(stat -c %s beyond.qemu.qcow2)" "qemu-img's file size after relocating the block"
cp base.qcow2 beyond-l.qcow2
poke beyond-l.qcow2 reftable 0 0x1000000
our_repair leaks beyond-l.qcow2
[ "$RRC" != 0 ] || fail "-r leaks fixed a reftable entry beyond EOF"
pass
expect_unchanged beyond.qcow2 beyond-l.qcow2 "-r leaks with a reftable entry beyond EOF"

# Unused entry 1 beyond EOF: the same 16 MiB from qemu-img.
cp base.qcow2 beyond1.qcow2
poke beyond1.qcow2 reftable 1 0x1000000
repair_leaves beyond1 leaks beyond1.qcow2
repair_both beyond1 all beyond1.qcow2
expect_rrc 0 "unused entry beyond EOF -r all"
expect_qemu_clean beyond1.ours.qcow2 "unused entry beyond EOF -r all (ours)"
expect_same_guest base.qcow2 beyond1.ours.qcow2 "unused entry beyond EOF -r all (ours)"
[ "$(stat -c %s beyond1.ours.qcow2)" -le "$REBUILT_MAX" ] || fail "unused entry beyond EOF: file grew to $(stat -c %s beyond1.ours.qcow2)"
pass
assert_eq 16842752 "$(stat -c %s beyond1.qemu.qcow2)" "qemu-img's file size (unused entry beyond EOF)"

# Unused entry 1 pointing at the data cluster of guest 0: rebuilt; the data
# cluster stays data (the guest reads what it read).
cp base.qcow2 shared1.qcow2
poke shared1.qcow2 reftable 1 "$(poke base.qcow2 get host 0)"
repair_leaves shared1 leaks shared1.qcow2
# Rebuilt; the refcount block entry's own corruption counts as fixed.
repair_fixes shared1 all shared1.qcow2 base.qcow2
rebuilt_ok shared1

# The table missing. Offset 0 (the header is read as the table): qemu-img
# ends clean but with a 4 GiB sparse file; ours rebuilds in the file.
cp base.qcow2 rt0.qcow2
poke rt0.qcow2 header refcount_table_offset 0
repair_both rt0 all rt0.qcow2
rebuilt_ok rt0
assert_eq 4295098368 "$(qemu-img check --output=json rt0.qemu.qcow2 | jq '.["image-end-offset"]')" "qemu-img's image end after -r all"
expect_same_guest base.qcow2 rt0.qemu.qcow2 "refcount_table_offset 0 (qemu-img)"

# Offset beyond EOF and zero clusters: both rebuild.
cp base.qcow2 rtbeyond.qcow2
poke rtbeyond.qcow2 header refcount_table_offset 0x1000000
repair_leaves rtbeyond leaks rtbeyond.qcow2
# Rebuilt; the table reaching past the end of the file counts as fixed.
repair_fixes rtbeyond all rtbeyond.qcow2 base.qcow2
rebuilt_ok rtbeyond

cp base.qcow2 rtclusters.qcow2
poke rtclusters.qcow2 header refcount_table_clusters 0
repair_leaves rtclusters leaks rtclusters.qcow2
repair_fixes rtclusters all rtclusters.qcow2 base.qcow2
rebuilt_ok rtclusters
finish
