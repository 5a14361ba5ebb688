#!/bin/bash
# Compressed clusters: OFLAG_COPIED on a compressed entry, the shared host
# cluster's refcount too low and zero (behaviour doc 6.11), and
# --verify-compressed on a payload that does not decompress (a warning).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

rm -f base.qcow2
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c 'write -c -P 0x33 0 64k' -c 'write -c -P 0x44 64k 64k' -c 'write -P 0x55 1M 64k' base.qcow2 >/dev/null
compare_full base.qcow2
expect_kinds base.qcow2
C=$(cluster_of "$(poke base.qcow2 get host 0)")
assert_eq "$C" "$(cluster_of "$(poke base.qcow2 get host 0x10000)")" "both streams in one host cluster"

# COPIED on the compressed entry for guest 64k.
cp base.qcow2 copied.qcow2
poke copied.qcow2 l2 0x10000 --or 0x8000000000000000
compare_full copied.qcow2
expect_kinds copied.qcow2 compressed-copied
expect_located copied.qcow2 compressed-copied l1-index=0 l2-index=1 guest-offset=0x10000 \
    host-offset="$(poke copied.qcow2 get l2-entry-offset 0x10000)" severity=corruption

# Host cluster refcount 1 (two streams: should be 2), and 0.
for rc in 1 0; do
    cp base.qcow2 rc$rc.qcow2
    poke rc$rc.qcow2 refcount "$C" $rc
    compare_full rc$rc.qcow2
    expect_kinds rc$rc.qcow2 refcount-too-low
    expect_located rc$rc.qcow2 refcount-too-low cluster="$C" refcount=$rc references=2 l1-index=0 l2-index=0 \
        guest-offset=0
done

# A corrupted compressed payload: qemu-img check does not notice; we warn
# with --verify-compressed only, and the exit code stays that of qemu.
cp base.qcow2 garbage.qcow2
S=$(poke garbage.qcow2 get host 0x10000)
head -c 64 /dev/zero | tr '\0' '\377' | dd of=garbage.qcow2 bs=1 seek="$S" conv=notrunc status=none
compare_full garbage.qcow2
expect_kinds garbage.qcow2
expect_exit 0 garbage.qcow2 --verify-compressed
expect_warning garbage.qcow2 compressed-undecodable --verify-compressed
expect_located garbage.qcow2 compressed-undecodable l1-index=0 l2-index=1 guest-offset=0x10000 host-offset="$S" \
    -- --verify-compressed
expect_exit 0 base.qcow2 --verify-compressed
jq -e '[.findings[]] | length == 0' ours-check.json >/dev/null || fail "findings on an intact compressed image"
pass

# The same damage together with a leak: exit 3 with and without the option.
cp garbage.qcow2 garbage-leak.qcow2
poke garbage-leak.qcow2 l2 0x100000 0
compare_full garbage-leak.qcow2
expect_exit 3 garbage-leak.qcow2 --verify-compressed
expect_warning garbage-leak.qcow2 compressed-undecodable --verify-compressed

# zstd: the same.
rm -f zstd.qcow2
qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 4M
qemu-io -c 'write -c -P 0x33 0 64k' -c 'write -c -P 0x44 64k 64k' zstd.qcow2 >/dev/null
compare_full zstd.qcow2
expect_exit 0 zstd.qcow2 --verify-compressed
jq -e '[.findings[]] | length == 0' ours-check.json >/dev/null || fail "findings on an intact zstd image"
pass
S=$(poke zstd.qcow2 get host 0)
head -c 64 /dev/zero | tr '\0' '\377' | dd of=zstd.qcow2 bs=1 seek="$S" conv=notrunc status=none
compare_full zstd.qcow2
expect_exit 0 zstd.qcow2 --verify-compressed
expect_warning zstd.qcow2 compressed-undecodable --verify-compressed
expect_located zstd.qcow2 compressed-undecodable l2-index=0 guest-offset=0 host-offset="$S" -- --verify-compressed
finish
