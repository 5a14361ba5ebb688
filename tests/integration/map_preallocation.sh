#!/bin/bash
# preallocation=metadata (allocated clusters that read as zeros), falloc
# and full, then data, zero writes and discards on top; compat=0.10
# metadata preallocation has no zero flag and maps as data.
. "$(dirname "$0")/lib.sh"

for mode in metadata falloc full; do
    img=$mode.qcow2
    qemu-img create -q -f qcow2 -o preallocation=$mode $img 3M
    compare_all $img
    qemu-io -c 'write -P 1 64k 4k' -c 'write -z 1M 64k' -c 'discard 2M 64k' \
        -c 'write -z -u 2560k 64k' $img > /dev/null
    compare_all $img
    compare_human $img
    compare_map $img --start-offset=60k --max-length=1M
done

qemu-img create -q -f qcow2 -o preallocation=metadata,cluster_size=4k small-clusters.qcow2 1M
qemu-io -c 'write -P 1 8k 4k' small-clusters.qcow2 > /dev/null
compare_all small-clusters.qcow2

qemu-img create -q -f qcow2 -o preallocation=metadata,compat=0.10 old.qcow2 3M
compare_all old.qcow2
compare_human old.qcow2
finish
