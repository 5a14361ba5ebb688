#!/bin/bash
# Repairs on compressed and extended-L2 images, header bits and truncated
# files (behaviour doc 6.11-6.14).
#  * COPIED on a compressed entry: qemu-img repairs it in neither mode; our
#    -r all clears the flag (the entry is otherwise untouched: same data).
#  * extended L2 bitmap errors, truncated files: not repairable; nothing
#    written, and we say why.
#  * the corrupt and dirty bits: cleared by any repair that leaves no
#    corruption, kept otherwise, as qemu-img.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2

# Compressed: COPIED set on a compressed entry.
qemu-img create -q -f qcow2 comp.qcow2 4M
qemu-io -c 'write -c -P 0x33 0 64k' -c 'write -c -P 0x44 64k 64k' -c 'write -P 0x55 1M 64k' comp.qcow2 >/dev/null
cp comp.qcow2 comp-copied.qcow2
poke comp-copied.qcow2 l2 0 --or 0x8000000000000000
repair_leaves comp-copied leaks comp-copied.qcow2
repair_both comp-copied all comp-copied.qcow2
expect_rrc 0 "COPIED on a compressed entry -r all"
expect_qemu_clean comp-copied.ours.qcow2 "COPIED on a compressed entry -r all"
expect_same_guest comp.qcow2 comp-copied.ours.qcow2 "COPIED on a compressed entry -r all"
assert_eq "$(poke --hex comp.qcow2 get l2 0)" "$(poke --hex comp-copied.ours.qcow2 get l2 0)" "the compressed entry after -r all"
assert_eq 2 "$QRC" "qemu-img -r all leaves COPIED on a compressed entry"

# Extended L2: a subcluster both allocated and zero; allocation bits on an
# unallocated entry. Not repairable.
qemu-img create -q -f qcow2 -o extended_l2=on ext.qcow2 4M
qemu-io -c 'write -P 0x11 0 4k' -c 'write -P 0x22 1M 64k' -c 'write -z 2M 64k' ext.qcow2 >/dev/null
cp ext.qcow2 ext-az.qcow2
poke ext-az.qcow2 l2-bitmap 0 --or 0x100000000
cp ext.qcow2 ext-un.qcow2
poke ext-un.qcow2 l2-bitmap 0x300000 0x1
for name in ext-az ext-un; do
    for mode in leaks all; do
        repair_leaves $name $mode $name.qcow2
        expect_refused "left alone: ERROR" "$name -r $mode"
    done
done

# The corrupt bit alone: cleared by both modes (nothing else written).
cp base.qcow2 corrupt.qcow2
poke corrupt.qcow2 header incompatible_features --or 2
for mode in leaks all; do
    repair_fixes corrupt $mode corrupt.qcow2 base.qcow2
    expect_unchanged base.qcow2 corrupt.ours.qcow2 "corrupt bit -r $mode: only the bit changes"
done
# With a corruption no repair fixes, the bit stays.
cp corrupt.qcow2 corrupt-res.qcow2
poke corrupt-res.qcow2 l2 0x110000 --or 0x100
for mode in leaks all; do
    repair_leaves corrupt-res $mode corrupt-res.qcow2
    assert_eq 2 "$(poke corrupt-res.qemu.qcow2 get header incompatible_features)" "qemu-img keeps the corrupt bit (-r $mode)"
done
# The dirty bit alone: cleared.
cp base.qcow2 dirty.qcow2
poke dirty.qcow2 header incompatible_features --or 1
for mode in leaks all; do
    repair_fixes dirty $mode dirty.qcow2 base.qcow2
    expect_unchanged base.qcow2 dirty.ours.qcow2 "dirty bit -r $mode: only the bit changes"
done

# Truncated files. Cut inside the last data cluster: clean, nothing to do.
cp base.qcow2 cut-inside.qcow2
truncate -s $((0x78000)) cut-inside.qcow2
for mode in leaks all; do
    cp cut-inside.qcow2 cut-inside.ours.qcow2
    our_repair $mode cut-inside.ours.qcow2
    expect_rrc 0 "cut inside the last cluster -r $mode"
    expect_unchanged cut-inside.qcow2 cut-inside.ours.qcow2 "cut inside the last cluster -r $mode"
done
# The whole last data cluster cut, a cut inside the L2 table: references
# past EOF, not repairable; the refcounts of the cut-off clusters are left.
for cut in 0x70000 0x48000; do
    cp base.qcow2 cut.qcow2
    truncate -s $((cut)) cut.qcow2
    for mode in leaks all; do
        repair_leaves cut$cut $mode cut.qcow2
        expect_refused "left alone: ERROR: counting reference" "cut at $cut -r $mode"
        expect_same_guest cut.qcow2 cut$cut.ours.qcow2 "cut at $cut -r $mode"
    done
done
# 512-byte clusters, cut inside the last L2 table.
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 1M
qemu-io -c 'write -P 1 0 4k' -c 'write -P 2 512k 1k' small.qcow2 >/dev/null
LAST=$(poke small.qcow2 get l2-table-offset 0x80000)
cp small.qcow2 small-cut.qcow2
truncate -s $((LAST + 256)) small-cut.qcow2
repair_leaves small-cut all small-cut.qcow2
expect_refused "left alone: ERROR: counting reference" "512-byte clusters cut inside the last L2 table"
finish
