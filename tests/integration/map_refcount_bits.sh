#!/bin/bash
# Every refcount width, from images created with it and from images whose
# refcount structures `qemu-img amend` rewrote to another width.
. "$(dirname "$0")/lib.sh"

for bits in 1 2 4 8 16 32 64; do
    img=r$bits.qcow2
    qemu-img create -q -f qcow2 -o refcount_bits=$bits $img 4M
    qemu-io -c 'write -P 1 0 1M' -c 'write -z 1M 64k' -c 'discard 512k 64k' \
        -c 'write -P 2 3M 100k' -c 'write -z -u 3M 64k' $img > /dev/null
    assert_eq "refcount bits: $bits" "$(qemu-img info $img | grep -o 'refcount bits: .*')" "$img width"
    compare_all $img
    compare_human $img
done

qemu-img create -q -f qcow2 amended.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 2 2M 64k' -c 'discard 256k 64k' amended.qcow2 > /dev/null
# 16 -> 64 -> 1: widening from narrow refcounts takes qemu-img amend ~40 s.
for bits in 64 1; do
    qemu-img amend -o refcount_bits=$bits amended.qcow2
    qemu-io -c "write -P $bits 3M 64k" amended.qcow2 > /dev/null
    compare_all amended.qcow2
done
finish
