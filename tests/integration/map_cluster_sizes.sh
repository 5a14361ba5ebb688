#!/bin/bash
# The same pattern of writes (unaligned data, zero writes with and without
# unmap, discards, whole and partial clusters) at every cluster size from
# 512 B to 2 MiB; with 512 B clusters the 8 MiB image spans many L2 tables.
. "$(dirname "$0")/lib.sh"

for cs in 512 4k 64k 2M; do
    img=c$cs.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=$cs $img 8M
    qemu-io -c 'write -P 1 0 1000' -c 'write -P 2 100k 300k' -c 'write -z 1M 64k' \
        -c 'write -P 3 1536k 256k' -c 'write -z -u 1600k 128k' -c 'write -P 4 3M 1M' \
        -c 'discard 3584k 4k' -c 'write -z 3300k 12k' -c 'discard 3M 2k' \
        -c 'write -P 5 6M 2M' -c 'discard 7M 1M' -c 'write -P 6 8387584 512' $img > /dev/null
    compare_all $img
    compare_human $img
    compare_map $img --start-offset=100k --max-length=3M
    compare_map $img --start-offset=3333 --max-length=4444
done
finish
