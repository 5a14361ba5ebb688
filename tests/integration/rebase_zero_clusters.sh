#!/bin/bash
# Where the old chain reads zeros and the new backing has data, the overlay
# gets zero clusters (the v3 zero flag), not data clusters of zeros: the
# old chain's zeros come from nothing allocated, from a zero cluster, from
# a data cluster full of zeros, and from past the old backing's end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 6M
qemu-io -c 'write -P 1 0 1M' -c 'write -z 1M 128k' -c 'write -P 0 2M 128k' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 8M
# Data over: 512k..768k (old has 1: copied as data, as is 768k..1M), 1M..1M+128k (old zero
# cluster), 2M..2M+128k (old zero data), 3M..3M+64k (old unallocated),
# 7M..7M+192k (past old's end), 4M+32k..4M+96k (half of two clusters).
qemu-io -c 'write -P 1 0 512k' -c 'write -P 5 512k 256k' -c 'write -P 5 1M 128k' -c 'write -P 5 2M 128k' \
    -c 'write -P 5 3M 64k' -c 'write -P 5 7M 192k' -c 'write -P 5 4128k 64k' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 ov.qcow2 8M
qemu-io -c 'write -P 2 5M 64k' ov.qcow2 >/dev/null
guest_raw ov.qcow2 before.raw
clusters_before=$(check_field ov.qcow2 allocated-clusters)

rebase_vs_qemu ov.qcow2 -b new.qcow2 -F qcow2
expect_guest before.raw ov.qcow2
for range in "$((1 << 20)) $((128 << 10))" "$((2 << 20)) $((128 << 10))" "$((3 << 20)) $((64 << 10))" \
    "$((7 << 20)) $((192 << 10))" "$((4 << 20)) $((128 << 10))"; do
    # shellcheck disable=SC2086
    expect_local_zero ov.qcow2 $range
done
# Only 512k..1M (old data: 5 in new, then nothing in new) took data clusters.
assert_eq $((clusters_before + 8)) "$(check_field ov.qcow2 allocated-clusters)" "data clusters after the rebase"
expect_not_local ov.qcow2 0 $((512 << 10))
expect_not_local ov.qcow2 $((6 << 20)) $((1 << 20))

# The opposite direction: the overlay now over new.qcow2 goes back onto
# old.qcow2; where new has data and old reads zeros, the overlay already
# holds zero clusters, so nothing changes there.
cp ov.qcow2 back.qcow2
rebase_vs_qemu back.qcow2 -b old.qcow2 -F qcow2
expect_guest before.raw back.qcow2
finish
