#!/bin/bash
# Backing files shorter and longer than the overlay: the part of the
# overlay past a backing file's end reads zeros through it, and data past
# the overlay's own end never matters.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

# Old backing shorter (4M under 8M), new one longer (12M) with data past
# 4M: those ranges read zeros before, so they become zero clusters; its
# data past 8M is never looked at.
qemu-img create -q -f qcow2 short.qcow2 4M
qemu-io -c 'write -P 1 0 4M' short.qcow2 >/dev/null
qemu-img create -q -f qcow2 long.qcow2 12M
qemu-io -c 'write -P 1 0 3M' -c 'write -P 4 5M 128k' -c 'write -P 4 9M 1M' long.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b short.qcow2 -F qcow2 ov.qcow2 8M
qemu-io -c 'write -P 2 6M 64k' ov.qcow2 >/dev/null
guest_raw ov.qcow2 before.raw
cp ov.qcow2 ov-b.qcow2

rebase_vs_qemu ov.qcow2 -b long.qcow2 -F qcow2
expect_backing ov.qcow2 long.qcow2 qcow2
expect_guest before.raw ov.qcow2
assert_eq 8388608 "$(info_field ov.qcow2 '.["virtual-size"]')" "virtual size after the rebase"
expect_local_zero ov.qcow2 $((5 << 20)) $((128 << 10))
expect_not_local ov.qcow2 0 $((3 << 20))
expect_not_local ov.qcow2 $((7 << 20)) $((1 << 20))
assert_eq 16 "$(qemu-img map -U --output=json ov.qcow2 | jq -s \
    'add | map(select(.depth == 0 and .data and .start >= 3145728 and .start < 4194304)) | map(.length) | add / 65536')" \
    "clusters copied at 3M..4M (short has data, long does not)"

# Old backing longer (12M), new one shorter (2M): the old data of 2M..8M
# comes up; the old data past 8M is not the overlay's.
qemu-img create -q -f qcow2 tiny.qcow2 2M
qemu-io -c 'write -P 1 0 2M' tiny.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b long.qcow2 -F qcow2 ov2.qcow2 8M
qemu-io -c 'write -P 2 0 64k' ov2.qcow2 >/dev/null
guest_raw ov2.qcow2 before2.raw
rebase_vs_qemu ov2.qcow2 -b tiny.qcow2 -F qcow2
expect_backing ov2.qcow2 tiny.qcow2 qcow2
expect_guest before2.raw ov2.qcow2
expect_not_local ov2.qcow2 $((64 << 10)) $(((2 << 20) - (64 << 10)))
assert_eq $(( (1024 + 128) / 64 )) "$(qemu-img map -U --output=json ov2.qcow2 | jq -s \
    'add | map(select(.depth == 0 and .data and .start >= 2097152)) | map(.length) | add / 65536')" \
    "clusters copied past the new backing's end (2M..3M and 5M..5M+128k)"

# Sizes that are not cluster multiples: a 5M+512 overlay over a raw file of
# 3M+1000 bytes, onto one of 1M+4000 bytes.
head -c $(((3 << 20) + 1000)) /dev/zero | tr '\0' '\252' > odd-old.raw
head -c $(((1 << 20) + 4000)) /dev/zero | tr '\0' '\252' > odd-new.raw
qemu-img create -q -f qcow2 -b odd-old.raw -F raw odd.qcow2 $(((5 << 20) + 512))
qemu-io -c 'write -P 3 4M 4k' odd.qcow2 >/dev/null
guest_raw odd.qcow2 before-odd.raw
rebase_vs_qemu odd.qcow2 -b odd-new.raw -F raw
expect_guest before-odd.raw odd.qcow2
assert_eq $(((5 << 20) + 512)) "$(info_field odd.qcow2 '.["virtual-size"]')" "odd virtual size kept"

# And back onto the longer file: the copied bytes now sit in the overlay,
# so nothing differs and nothing is allocated.
cp odd.qcow2 odd-back.qcow2
rebase -b odd-old.raw -F raw odd-back.qcow2
expect_guest before-odd.raw odd-back.qcow2
expect_clean odd-back.qcow2
assert_eq "$(stat -c %s odd.qcow2)" "$(stat -c %s odd-back.qcow2)" 'file size after moving back'
finish
