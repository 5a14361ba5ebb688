#!/bin/bash
# Compressed clusters in the backing files (old, new, or both) read as
# plain data for the comparison; an overlay's own compressed clusters stay
# as they are.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 plain-old.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 3 2M 512k' plain-old.qcow2 >/dev/null
qemu-img convert -c -O qcow2 plain-old.qcow2 old.qcow2
qemu-img create -q -f qcow2 plain-new.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 8 256k 64k' -c 'write -P 3 2M 256k' -c 'write -P 6 3M 64k' plain-new.qcow2 >/dev/null
qemu-img convert -c -O qcow2 plain-new.qcow2 new.qcow2
[ "$(check_field old.qcow2 compressed-clusters)" -gt 0 ] || fail "old.qcow2 has no compressed clusters"
[ "$(check_field new.qcow2 compressed-clusters)" -gt 0 ] || fail "new.qcow2 has no compressed clusters"

# The overlay holds a compressed cluster of its own too (written with -c).
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 ov.qcow2 4M
qemu-io -c 'write -c -P 2 1M 64k' -c 'write -P 2 128k 64k' ov.qcow2 >/dev/null
[ "$(check_field ov.qcow2 compressed-clusters)" = 1 ] || fail "ov.qcow2 should hold one compressed cluster"
guest_raw ov.qcow2 before.raw
cp ov.qcow2 ov2.qcow2
cp ov.qcow2 ov3.qcow2

# Compressed old onto compressed new.
rebase_vs_qemu ov.qcow2 -b new.qcow2 -F qcow2
expect_guest before.raw ov.qcow2
assert_eq 1 "$(check_field ov.qcow2 compressed-clusters)" "the overlay's own compressed cluster"
expect_not_local ov.qcow2 0 $((128 << 10))
expect_not_local ov.qcow2 $((2 << 20)) $((256 << 10))
expect_local_zero ov.qcow2 $((3 << 20)) $((64 << 10))
# 256k..320k (8 in new) and 2M+256k..2M+512k (not in new) copied as data.
assert_eq $((1 + 4)) "$(qemu-img map -U --output=json ov.qcow2 | jq -s \
    'add | map(select(.depth == 0 and .data and (.start == 262144 or (.start >= 2359296 and .start < 2621440)))) | map(.length) | add / 65536')" \
    "clusters copied from the compressed old backing"

# Compressed old onto plain new, and plain old onto compressed new (same
# guest view: nothing differs but what the layers differ in).
rebase_vs_qemu ov2.qcow2 -b plain-new.qcow2 -F qcow2
expect_guest before.raw ov2.qcow2
rebase -u -b plain-old.qcow2 -F qcow2 ov3.qcow2
expect_guest before.raw ov3.qcow2
rebase_vs_qemu ov3.qcow2 -b new.qcow2 -F qcow2
expect_guest before.raw ov3.qcow2
cmp <(qemu-img map -U --output=json ov.qcow2 | jq -c -s 'add | map(del(.offset))') \
    <(qemu-img map -U --output=json ov3.qcow2 | jq -c -s 'add | map(del(.offset))') >&2 ||
    fail "plain old and compressed old give different layouts"
pass
finish
