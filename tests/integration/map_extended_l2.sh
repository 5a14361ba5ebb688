#!/bin/bash
# extended_l2=on without a backing file: 4k writes into 64k clusters leave
# the other subclusters of the cluster unallocated (qemu still reports
# their host offset), zero writes of single subclusters, discards of
# subclusters; also 16k and 2M clusters, compressed clusters and
# preallocation=metadata, which allocates clusters with every subcluster
# unallocated.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=64k sub.qcow2 4M
qemu-io -c 'write -P 1 4k 4k' -c 'write -P 2 64k 64k' -c 'write -z 72k 8k' -c 'write -z -u 96k 4k' \
    -c 'discard 120k 8k' -c 'write -z 1M 64k' -c 'write -P 3 2M 2k' -c 'write -z 2052k 4k' \
    -c 'write -P 4 3M 60k' -c 'discard 3076k 4k' sub.qcow2 > /dev/null
compare_guest sub.qcow2
compare_human sub.qcow2
compare_map sub.qcow2

qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=16k small.qcow2 1M
qemu-io -c 'write -P 1 512 512' -c 'write -z 16k 1k' -c 'write -P 1 20k 1k' small.qcow2 > /dev/null
compare_guest small.qcow2
compare_map small.qcow2

qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=2M huge.qcow2 8M
qemu-io -c 'write -P 1 64k 64k' -c 'write -z 2M 64k' -c 'write -P 3 4M 100k' huge.qcow2 > /dev/null
compare_guest huge.qcow2
compare_map huge.qcow2
compare_map huge.qcow2 --start-offset=4M --max-length=96k

qemu-img create -q -f qcow2 -o extended_l2=on,compression_type=zstd comp.qcow2 1M
qemu-io -c 'write -c -P 1 0 64k' -c 'write -P 2 64k 4k' -c 'write -c -P 3 192k 64k' comp.qcow2 > /dev/null
compare_guest comp.qcow2
compare_human_rc comp.qcow2
compare_map comp.qcow2

qemu-img create -q -f qcow2 -o extended_l2=on,preallocation=metadata prealloc.qcow2 3M
qemu-io -c 'write -P 1 64k 4k' -c 'write -z 1M 8k' -c 'discard 2M 64k' prealloc.qcow2 > /dev/null
compare_guest prealloc.qcow2
compare_human prealloc.qcow2
compare_map prealloc.qcow2
finish
