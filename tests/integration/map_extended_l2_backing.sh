#!/bin/bash
# extended_l2=on overlays: a subcluster left unallocated in an allocated
# cluster reads through to the backing file, while zeroed or discarded
# subclusters hide it.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 base.qcow2 8M
qemu-io -c 'write -P 1 0 4M' -c 'write -P 2 6M 1M' base.qcow2 > /dev/null

qemu-img create -q -f qcow2 -o extended_l2=on -b base.qcow2 -F qcow2 ov.qcow2 8M
qemu-io -c 'write -P 9 4k 4k' -c 'write -z 104k 4k' -c 'discard 120k 8k' -c 'write -z -u 3M 8k' \
    -c 'write -P 4 3080k 2k' -c 'write -P 5 6200k 4k' -c 'discard 6208k 4k' \
    -c 'write -z 7M 4k' ov.qcow2 > /dev/null
compare_all ov.qcow2
compare_human ov.qcow2
compare_map ov.qcow2 --start-offset=6M --max-length=1M

# Both layers with subclusters, 32k clusters (1k subclusters) on top.
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=32k -b ov.qcow2 -F qcow2 top.qcow2 8M
qemu-io -c 'write -P 7 5k 1k' -c 'write -z 6k 2k' -c 'write -P 8 3074k 1k' top.qcow2 > /dev/null
compare_all top.qcow2
compare_human top.qcow2

# preallocation=metadata over a backing file (qemu allows it only with
# extended L2): every subcluster unallocated, so the base shows through.
qemu-img create -q -f qcow2 -o extended_l2=on,preallocation=metadata -b base.qcow2 -F qcow2 prealloc.qcow2
compare_all prealloc.qcow2
qemu-io -c 'write -P 1 64k 4k' -c 'write -z 1M 8k' -c 'discard 2M 64k' prealloc.qcow2 > /dev/null
compare_all prealloc.qcow2
compare_human prealloc.qcow2
finish
