#!/bin/bash
# Repairing images with persistent dirty bitmaps (behaviour doc 6.16):
# in_use flag, refcount 0 on a bitmap table / bitmap data cluster, the
# bitmaps autoclear bit cleared, a bitmap table entry or table offset
# unaligned (qemu-img cannot open those at all). Rebuilds keep the bitmaps;
# a repair must not free the clusters of a bitmap whose table it cannot
# read, so putting the pointer right gives the bitmap back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

qemu-img create -q -f qcow2 bm.qcow2 4M
qemu-io -c 'write -P 0x11 0 64k' bm.qcow2 >/dev/null
qemu-img bitmap --add -g 64k bm.qcow2 b0
qemu-io -c 'write -P 0x22 1M 64k' bm.qcow2 >/dev/null
qemu-img bitmap --add bm.qcow2 b1
qemu-io -c 'write -P 0x33 2M 64k' bm.qcow2 >/dev/null
expect_qemu_clean bm.qcow2 "the bitmap image"
BT=$(poke bm.qcow2 get bitmap 0 table_offset)
BTX=$(poke --hex bm.qcow2 get bitmap 0 table_offset)
BD=$(poke bm.qcow2 get bitmap-entry 0 0)
BDX=$(poke --hex bm.qcow2 get bitmap-entry 0 0)

# bitmaps IMAGE: the bitmap names qemu-img info lists, space separated.
bitmaps() { qemu-img info --output=json -U "$1" 2>/dev/null | jq -r '[.["format-specific"].data.bitmaps[]?.name] | join(" ")'; }
assert_eq "b0 b1" "$(bitmaps bm.qcow2)" "bitmaps of the image"

# in_use: not an inconsistency; nothing written, the flag stays.
cp bm.qcow2 inuse.qcow2
poke inuse.qcow2 bitmap 0 flags --or 1
for mode in leaks all; do
    cp inuse.qcow2 inuse.ours.qcow2
    our_repair $mode inuse.ours.qcow2
    expect_rrc 0 "bitmap in use -r $mode"
    expect_unchanged inuse.qcow2 inuse.ours.qcow2 "bitmap in use -r $mode"
done

# Refcount 0 on the bitmap table and on the bitmap's data cluster: -r all
# rebuilds; the bitmaps and their bytes survive.
for c in $(cluster_of "$BT") $(cluster_of "$BD"); do
    cp bm.qcow2 zero$c.qcow2
    poke zero$c.qcow2 refcount "$c" 0
    repair_leaves zero$c leaks zero$c.qcow2
    repair_fixes zero$c all zero$c.qcow2 bm.qcow2
    assert_eq "b0 b1" "$(bitmaps zero$c.ours.qcow2)" "bitmaps after the rebuild (cluster $c)"
    assert_eq "$(host_digest bm.qcow2 "$BD" 65536)" "$(host_digest zero$c.ours.qcow2 "$BD" 65536)" "bitmap b0's data after the rebuild"
done

# The autoclear bit cleared: qemu-img considers every bitmap inconsistent,
# its repair frees the bitmap clusters (5 leaks) and drops the extension.
# We free the same clusters; the extension must not be left pointing at
# them (qemu-img would warn about it on every open).
cp bm.qcow2 autoclear.qcow2
poke autoclear.qcow2 header autoclear_features --and-not 1
for mode in leaks all; do
    repair_fixes autoclear $mode autoclear.qcow2 bm.qcow2
    expect_fixed "5 0" "autoclear cleared -r $mode"
    assert_eq "" "$(bitmaps autoclear.qemu.qcow2)" "qemu-img dropped the bitmaps"
    qemu-img info autoclear.ours.qcow2 > /dev/null 2> info.err || true
    soft_eq "" "$(grep -o 'a program lacking bitmap support.*' info.err | head -1)" \
        "autoclear cleared -r $mode: qemu-img info warning after our repair (the extension still points at freed clusters)"
done

# A bitmap table entry unaligned, the bitmap table offset unaligned: qemu-img
# cannot open the image. The bitmap's data cluster must stay allocated.
for damage in "bitmap-entry 0 0 --or 0x200" "bitmap 0 table_offset --or 0x200"; do
    cp bm.qcow2 d.qcow2
    poke d.qcow2 $damage
    qemu-img info d.qcow2 > /dev/null 2>&1 && fail "qemu-img opens the image with $damage?"
    pass
    for mode in leaks all; do
        cp d.qcow2 bmd.ours.qcow2
        our_repair $mode bmd.ours.qcow2
        soft_eq 1 "$(refcount bmd.ours.qcow2 "$(cluster_of "$BD")")" "$damage -r $mode: refcount of bitmap b0's data cluster"
        soft_eq "$(host_digest bm.qcow2 "$BD" 65536)" "$(host_digest bmd.ours.qcow2 "$BD" 65536)" "$damage -r $mode: bitmap b0's data"
        poke bmd.ours.qcow2 bitmap 0 table_offset "$BTX"
        poke bmd.ours.qcow2 bitmap-entry 0 0 "$BDX"
        soft_eq 0 "$(qemu_rc bmd.ours.qcow2)" "$damage put right after our -r $mode: qemu-img check exit code"
        expect_same_guest bm.qcow2 bmd.ours.qcow2 "$damage -r $mode"
    done
done
finish
