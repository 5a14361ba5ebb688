#!/bin/bash
# In-chain rebases: dropping the middle of base <- mid <- top, and one or
# two layers of base <- m1 <- m2 <- top. What the dropped layers held
# (data, zero writes over base data) is copied into the top; what they did
# not touch stays in the backing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 base.qcow2 8M
qemu-io -c 'write -P 1 0 4M' -c 'write -P 6 6M 1M' base.qcow2 >/dev/null

# Depth 2: mid writes data over base data, data over base zeros, zeros over
# base data; top writes over part of that.
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 8M
qemu-io -c 'write -P 2 512k 256k' -c 'write -P 2 5M 128k' -c 'write -z 2M 192k' mid.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 8M
qemu-io -c 'write -P 3 640k 64k' -c 'write -P 3 7M 64k' top.qcow2 >/dev/null
guest_raw top.qcow2 before2.raw

rebase_vs_qemu top.qcow2 -b base.qcow2 -F qcow2
expect_backing top.qcow2 base.qcow2 qcow2
expect_guest before2.raw top.qcow2
# mid's zeros over base data: zero flag at depth 0.
expect_local_zero top.qcow2 $((2 << 20)) $((192 << 10))
# Untouched by mid: still read from base.
expect_not_local top.qcow2 0 $((512 << 10))
expect_not_local top.qcow2 $((1 << 20)) $((1 << 20))
expect_not_local top.qcow2 $((6 << 20)) $((1 << 20))
# mid's data (512k..768k but for top's own 640k..704k, and 5M..5M+128k).
assert_eq $(( (256 + 128) / 64 )) "$(qemu-img map -U --output=json top.qcow2 | jq -s \
    'add | map(select(.depth == 0 and .data and ((.start >= 524288 and .start < 786432) or (.start >= 5242880 and .start < 5373952)))) | map(.length) | add / 65536')" \
    "clusters at depth 0 from mid's data and top's own write"

# Depth 3: base <- m1 <- m2 <- top.
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 m1.qcow2 8M
qemu-io -c 'write -P 4 0 128k' -c 'write -P 4 4M 256k' -c 'write -z 6M 64k' m1.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b m1.qcow2 -F qcow2 m2.qcow2 8M
qemu-io -c 'write -P 5 64k 128k' -c 'write -P 5 3M 64k' -c 'discard 4M 64k' m2.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b m2.qcow2 -F qcow2 t3.qcow2 8M
qemu-io -c 'write -P 7 3M 32k' t3.qcow2 >/dev/null
guest_raw t3.qcow2 before3.raw
cp t3.qcow2 t3b.qcow2

# Drop m2 only: m2's data comes up, m1's stays in m1.
rebase_vs_qemu t3.qcow2 -b m1.qcow2 -F qcow2
expect_backing t3.qcow2 m1.qcow2 qcow2
expect_guest before3.raw t3.qcow2
expect_not_local t3.qcow2 $((4160 << 10)) $((192 << 10)) # m1's 4M+64k..4M+256k
expect_not_local t3.qcow2 $((6 << 20)) $((64 << 10))     # m1's zeros
# m2's discard over m1's data at 4M (a zero cluster in m2): zeros here too.
expect_local_zero m2.qcow2 $((4 << 20)) $((64 << 10))
expect_local_zero t3.qcow2 $((4 << 20)) $((64 << 10))

# Drop m1 and m2: everything of both comes up.
rebase_vs_qemu t3b.qcow2 -b base.qcow2 -F qcow2
expect_backing t3b.qcow2 base.qcow2 qcow2
expect_guest before3.raw t3b.qcow2
expect_local_zero t3b.qcow2 $((6 << 20)) $((64 << 10))
expect_not_local t3b.qcow2 $((1 << 20)) $((2 << 20))
expect_not_local t3b.qcow2 $((6 << 20 | 64 << 10)) $((960 << 10))

# The layers in between are untouched.
expect_clean m1.qcow2
expect_clean m2.qcow2
expect_clean mid.qcow2
finish
