#!/bin/bash
# Persistent bitmaps: a bitmap in use (a warning), refcount 0 on a bitmap
# table and on a bitmap data cluster, the bitmaps autoclear bit cleared
# (behaviour doc 6.16); and damage qemu-img refuses to open (broken bitmap
# directory, unaligned bitmap table or table entry), where we report it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
qemu-img bitmap --add -g 64k base.qcow2 b0
qemu-io -c 'write -P 0x66 2M 64k' base.qcow2 >/dev/null
qemu-img bitmap --add base.qcow2 b1
qemu-io -c 'write -P 0x67 3M 64k' base.qcow2 >/dev/null
compare_full base.qcow2
expect_kinds base.qcow2
TABLE=$(poke base.qcow2 get bitmap 0 table_offset)
DATA=$(poke base.qcow2 get bitmap-entry 0 0)
[ "$DATA" -ge 65536 ] || fail "bitmap b0 has no data cluster"
pass

# In use: qemu says nothing; we warn, same exit code.
cp base.qcow2 inuse.qcow2
poke inuse.qcow2 bitmap 0 flags --or 1
compare_full inuse.qcow2
assert_eq 0 "$ORC" "exit code with a bitmap in use"
expect_warning inuse.qcow2 bitmap-in-use
expect_kinds inuse.qcow2 bitmap-in-use
expect_located inuse.qcow2 bitmap-in-use bitmap=b0
cp inuse.qcow2 inuse-leak.qcow2
poke inuse-leak.qcow2 l2 0x100000 0
compare_full inuse-leak.qcow2
assert_eq 3 "$ORC" "exit code with a bitmap in use and a leak"
expect_warning inuse-leak.qcow2 bitmap-in-use

# Refcount 0 on bitmap b0's table and on its data cluster.
cp base.qcow2 table0.qcow2
poke table0.qcow2 refcount $((TABLE / 65536)) 0
compare_full table0.qcow2
expect_kinds table0.qcow2 refcount-too-low
expect_located table0.qcow2 refcount-too-low cluster=$((TABLE / 65536)) bitmap=b0 owner="bitmap table of 'b0'"
cp base.qcow2 data0.qcow2
poke data0.qcow2 refcount $((DATA / 65536)) 0
compare_full data0.qcow2
expect_kinds data0.qcow2 refcount-too-low
expect_located data0.qcow2 refcount-too-low cluster=$((DATA / 65536)) bitmap=b0 owner="bitmap data of 'b0'"

# Autoclear bit 0 cleared: the bitmaps extension is ignored, its clusters leak.
cp base.qcow2 autoclear.qcow2
poke autoclear.qcow2 header autoclear_features --and-not 1
compare_full autoclear.qcow2
expect_kinds autoclear.qcow2 refcount-too-high
expect_count autoclear.qcow2 refcount-too-high 5
expect_located autoclear.qcow2 refcount-too-high cluster=$((TABLE / 65536)) references=0
expect_located autoclear.qcow2 refcount-too-high cluster=$((DATA / 65536)) references=0

# qemu-img cannot open these: we check them and report the damage.
# $1 image, $2 expected exit code, then the accepted finding kinds.
refused() {
    local img=$1 rc=$2 qrc=0; shift 2
    qemu-img check "$img" > /dev/null 2>&1 || qrc=$?
    assert_eq 1 "$qrc" "qemu-img check exit code on $img"
    expect_exit "$rc" "$img"
    local kinds
    kinds=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
    jq -e --argjson k "$kinds" \
        '[.findings[] | select(.severity == "corruption" and (.kind as $x | $k | index($x)))] | length > 0' \
        ours-check.json >/dev/null || fail "no $* corruption for $img: $(jq -c .findings ours-check.json)"
    pass
}

# Broken directory: entry 0's name runs past the directory.
cp base.qcow2 brokendir.qcow2
poke brokendir.qcow2 bitmap 0 name_size 2000
refused brokendir.qcow2 2 bitmap-directory-damaged
DIR=$(bitmap_directory_offset base.qcow2)
[ "$DIR" -ge 65536 ] || fail "no bitmap directory offset"
pass
expect_located brokendir.qcow2 bitmap-directory-damaged host-offset="$DIR"

# Bitmap b0's table entry 0 unaligned.
cp base.qcow2 entry.qcow2
poke entry.qcow2 bitmap-entry 0 0 $((DATA + 0x200))
refused entry.qcow2 2 bitmap-table-damaged
expect_located entry.qcow2 bitmap-table-damaged bitmap=b0 host-offset="$TABLE"

# Bitmap b0's table offset unaligned.
cp base.qcow2 tableoff.qcow2
poke tableoff.qcow2 bitmap 0 table_offset --or 0x200
refused tableoff.qcow2 2 bitmap-table-damaged bitmap-directory-damaged
jq -e '[.findings[] | select(.severity == "corruption" and .bitmap == "b0")] | length > 0' ours-check.json \
    >/dev/null || fail "no corruption naming bitmap b0 for tableoff.qcow2: $(jq -c .findings ours-check.json)"
pass
finish
