#!/bin/bash
# Files that are not there: the image itself, its backing file, a backing
# file two layers down, a directory given as the image. Both programs fail;
# ours names the missing file and exits non-zero in JSON and human mode.
. "$(dirname "$0")/lib.sh"

compare_map_fails nope.qcow2
grep -qF nope.qcow2 ours.err || fail "error does not name nope.qcow2: $(cat ours.err)"
pass
compare_human_rc_status() { # IMAGE: same non-zero exit status in human mode
    local qrc=0 orc=0
    qemu-img map "$1" > /dev/null 2>&1 || qrc=$?
    "$MAP" "$1" > /dev/null 2> ours.err || orc=$?
    [ $orc -ne 0 ] || fail "imgmend-map $1 succeeded"
    assert_eq "$qrc" "$orc" "exit status of human map $1"
}
compare_human_rc_status nope.qcow2

qemu-img create -q -f qcow2 gone.qcow2 1M
qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 ov.qcow2
qemu-img create -q -f qcow2 -b ov.qcow2 -F qcow2 top.qcow2
rm gone.qcow2
for img in ov.qcow2 top.qcow2; do
    compare_map_fails $img
    grep -qF gone.qcow2 ours.err || fail "error for $img does not name gone.qcow2: $(cat ours.err)"
    pass
    compare_human_rc_status $img
    expect_fail gone.qcow2 "$MAP" -U $img
done

qemu-img create -q -f qcow2 -b missing.raw -F raw -u raw-gone.qcow2 1M
compare_map_fails raw-gone.qcow2
grep -qF missing.raw ours.err || fail "error does not name missing.raw: $(cat ours.err)"
pass

mkdir dir.qcow2
compare_map_fails dir.qcow2
compare_human_rc_status dir.qcow2

# An image ending inside its own header.
qemu-img create -q -f qcow2 whole.qcow2 1M
head -c 50 whole.qcow2 > cut.qcow2
compare_map_fails -f qcow2 cut.qcow2
finish
