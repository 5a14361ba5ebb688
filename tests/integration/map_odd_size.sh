#!/bin/bash
# Virtual sizes that are not a multiple of the cluster or sector size:
# qemu-img create rounds 1000001 up to 1000448; a raw file truncated to
# 1000001 bytes keeps its size on disk and qemu rounds the device up.
. "$(dirname "$0")/lib.sh"

for cs in 512 64k; do
    img=odd-$cs.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=$cs $img 1000001
    assert_eq "virtual size: 977 KiB (1000448 bytes)" "$(qemu-img info $img | grep 'virtual size')" "$img size"
    compare_all $img
    qemu-io -c 'write -P 1 0 4k' -c 'write -P 2 999936 512' $img > /dev/null
    compare_all $img
    compare_human $img
    compare_map $img --start-offset=999000
done

truncate -s 1000001 odd.raw
printf 'xyz' | dd of=odd.raw bs=1 seek=5000 conv=notrunc 2> /dev/null
printf 'ab' | dd of=odd.raw bs=1 seek=999999 conv=notrunc 2> /dev/null
assert_eq 1000001 "$(stat -c %s odd.raw)" "raw file size"
compare_all odd.raw
compare_human odd.raw
compare_map odd.raw --start-offset=999999 --max-length=100

# The odd raw file as backing of an overlay of its size and a larger one.
qemu-img create -q -f qcow2 -b odd.raw -F raw same.qcow2
qemu-io -c 'write -P 3 976k 1k' same.qcow2 > /dev/null
compare_all same.qcow2
compare_human same.qcow2
qemu-img create -q -f qcow2 -b odd.raw -F raw larger.qcow2 1200000
compare_all larger.qcow2
compare_human larger.qcow2
compare_map larger.qcow2 --start-offset=999424 --max-length=2000
finish
