#!/bin/bash
# compat=0.10 (no zero flag: zero writes and discards must fall back to
# deallocation or explicit zeros) and compat=1.1, alone and as overlays,
# plus an image downgraded with `qemu-img amend -o compat=0.10`.
. "$(dirname "$0")/lib.sh"

for compat in 0.10 1.1; do
    qemu-img create -q -f qcow2 -o compat=$compat base-$compat.qcow2 4M
    qemu-io -c 'write -P 1 0 2M' -c 'write -z 3M 64k' -c 'write -P 2 3584k 4k' base-$compat.qcow2 > /dev/null
    compare_all base-$compat.qcow2
    compare_human base-$compat.qcow2

    ov=ov-$compat.qcow2
    qemu-img create -q -f qcow2 -o compat=$compat -b base-$compat.qcow2 -F qcow2 $ov 4M
    qemu-io -c 'write -z 64k 64k' -c 'write -z -u 256k 128k' -c 'discard 1M 64k' \
        -c 'write -P 5 3M 4k' -c 'write -z 3200k 64k' -c 'write -z 1500k 1k' -c 'discard 3584k 64k' $ov > /dev/null
    compare_all $ov
    compare_human $ov
    compare_map $ov --start-offset=1M --max-length=2M
done

qemu-img create -q -f qcow2 amended.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -z 1M 64k' -c 'write -P 2 2M 4k' -c 'write -z 2M 64k' \
    -c 'discard 512k 64k' amended.qcow2 > /dev/null
compare_all amended.qcow2
qemu-img amend -o compat=0.10 amended.qcow2
assert_eq "compat: 0.10" "$(qemu-img info amended.qcow2 | grep -o 'compat: .*')" "amended compat"
compare_all amended.qcow2
compare_human amended.qcow2
finish
