#!/bin/bash
# Damaged L1 entries: unaligned, beyond the end of the file, reserved bits,
# two entries sharing one L2 table, an entry pointing at the L1 table
# itself (behaviour doc 6.8).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
L1=$(poke base.qcow2 get header l1_table_offset)
L2=$(poke base.qcow2 get l2-table-offset 0)

# Unaligned: the "L2 table" is read from the unaligned offset.
cp base.qcow2 unaligned.qcow2
poke unaligned.qcow2 l1 0 --or 0x200
compare_full unaligned.qcow2
expect_count unaligned.qcow2 unaligned-l2-table 1
expect_located unaligned.qcow2 unaligned-l2-table l1-index=0 host-offset=$((L2 + 0x200)) snapshot=null
expect_count unaligned.qcow2 l2-reserved-bits 64 l1-index=0
expect_located unaligned.qcow2 l2-reserved-bits l1-index=0 l2-index=8191 guest-offset=$((8191 * 65536))

# Beyond the end of the file: its L2 table and data leak.
cp base.qcow2 beyond.qcow2
poke beyond.qcow2 l1 0 0x8000000001000000
compare_full beyond.qcow2
expect_kinds beyond.qcow2 beyond-end-of-file refcount-too-high oflag-copied-l1
expect_located beyond.qcow2 beyond-end-of-file host-offset=0x1000000 l1-index=0 owner="L2 table for L1 index 0"
expect_count beyond.qcow2 refcount-too-high 4
expect_located beyond.qcow2 refcount-too-high cluster=$((L2 / 65536)) references=0
expect_located beyond.qcow2 oflag-copied-l1 l1-index=0 host-offset="$L1" refcount=0

# Reserved bits 56, 0 and 8.
for bits in 0x0100000000000000 0x1 0x100; do
    cp base.qcow2 reserved.qcow2
    poke reserved.qcow2 l1 0 --or $bits
    compare_full reserved.qcow2
    expect_kinds reserved.qcow2 l1-reserved-bits
    expect_located reserved.qcow2 l1-reserved-bits l1-index=0 host-offset="$L1" severity=corruption
done

# A 1 GiB image (L1 size 2): damage at L1 index 1.
qemu-img create -q -f qcow2 big.qcow2 1G
qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 512M 64k' big.qcow2 >/dev/null
BL1=$(poke big.qcow2 get header l1_table_offset)
BL2=$(poke big.qcow2 get l2-table-offset 0x20000000)
compare_full big.qcow2

cp big.qcow2 big-reserved.qcow2
poke big-reserved.qcow2 l1 1 --or 0x0200000000000000
compare_full big-reserved.qcow2
expect_located big-reserved.qcow2 l1-reserved-bits l1-index=1 host-offset=$((BL1 + 8))

cp big.qcow2 big-unaligned.qcow2
poke big-unaligned.qcow2 l1 1 --or 0x200
compare_full big-unaligned.qcow2
expect_located big-unaligned.qcow2 unaligned-l2-table l1-index=1 host-offset=$((BL2 + 0x200))

cp big.qcow2 big-beyond.qcow2
poke big-beyond.qcow2 l1 1 0x8000000001000000
compare_full big-beyond.qcow2
expect_located big-beyond.qcow2 beyond-end-of-file host-offset=0x1000000 l1-index=1
expect_located big-beyond.qcow2 oflag-copied-l1 l1-index=1 host-offset=$((BL1 + 8))

# Two L1 entries -> one L2 table.
qemu-img create -q -f qcow2 one.qcow2 1G
qemu-io -c 'write -P 1 0 64k' one.qcow2 >/dev/null
cp one.qcow2 twol1.qcow2
poke twol1.qcow2 l1 1 "$(poke twol1.qcow2 get l1 0)"
compare_full twol1.qcow2
OL2=$(poke twol1.qcow2 get l2-table-offset 0)
expect_located twol1.qcow2 refcount-too-low cluster=$((OL2 / 65536)) refcount=1 references=2

# L1 entry 1 -> the L1 table itself.
cp one.qcow2 self.qcow2
OL1=$(poke self.qcow2 get header l1_table_offset)
poke self.qcow2 l1 1 "$(printf 0x%x $((OL1 | (1 << 63))))"
compare_full self.qcow2
expect_located self.qcow2 refcount-too-low cluster=$((OL1 / 65536)) refcount=1 references=3
finish
