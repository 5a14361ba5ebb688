#!/bin/bash
# qcow2 overlay over a qcow2 backing, moved onto another qcow2 that shares
# most of the data: what differs is copied, what the new backing adds over
# old zeros becomes zero clusters, and qemu-img rebase allocates no less.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

# old: 1 at 0..2M, 3 at 4M..5M; new: same but 7 at 1M..1M+64k (differs),
# no data at 4.5M..5M (old has it), 5 at 6M..6M+128k (old reads zeros).
qemu-img create -q -f qcow2 old.qcow2 8M
qemu-io -c 'write -P 1 0 2M' -c 'write -P 3 4M 1M' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 8M
qemu-io -c 'write -P 1 0 2M' -c 'write -P 7 1M 64k' -c 'write -P 3 4M 512k' \
    -c 'write -P 5 6M 128k' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 ov.qcow2 8M
qemu-io -c 'write -P 2 64k 64k' -c 'write -P 2 1M 32k' -c 'write -z 7M 64k' ov.qcow2 >/dev/null
guest_raw ov.qcow2 before.raw

rebase_vs_qemu ov.qcow2 -b new.qcow2 -F qcow2
expect_backing ov.qcow2 new.qcow2 qcow2
expect_backing qemu-ov.qcow2 new.qcow2 qcow2
expect_guest before.raw ov.qcow2
compare_map ov.qcow2

# 1M+32k..1M+64k differs (7 in new, 1 in old): copied as data.
assert_eq 1 "$(qemu-img map -U --output=json ov.qcow2 | jq -s --argjson a $((0x108000)) \
    'add | map(select(.start <= $a and .start + .length > $a and .depth == 0 and .data)) | length')" \
    "old data copied at 1M+32k"
# 4.5M..5M: old data the new backing lacks, copied.
assert_eq 1 "$(qemu-img map -U --output=json ov.qcow2 | jq -s --argjson a $((0x480000)) \
    'add | map(select(.start <= $a and .start + .length > $a and .depth == 0 and .data)) | length')" \
    "old data copied at 4.5M"
# 6M..6M+128k: the new backing's data over old zeros: zero flag, no data.
expect_local_zero ov.qcow2 $((6 << 20)) $((128 << 10))
# Ranges where both backings agree stay in the backing.
expect_not_local ov.qcow2 0 $((64 << 10))
expect_not_local ov.qcow2 $((2 << 20)) $((2 << 20))
expect_not_local ov.qcow2 $((4 << 20)) $((512 << 10))
# The backing files are untouched (opened read-only).
expect_clean new.qcow2
expect_clean old.qcow2

# Rebasing again onto the same backing (with -f qcow2 named) changes no
# data and allocates nothing.
cp ov.qcow2 again.qcow2
rebase -f qcow2 -b new.qcow2 -F qcow2 again.qcow2
assert_eq "$(check_field ov.qcow2 allocated-clusters)" "$(check_field again.qcow2 allocated-clusters)" \
    "clusters after a second rebase onto the same backing"
assert_eq "$(stat -c %s ov.qcow2)" "$(stat -c %s again.qcow2)" "file size after a second rebase"
expect_guest before.raw again.qcow2
finish
