#!/bin/bash
# A 4 TiB image with a few writes, up to its last byte, with 64k and 2M
# clusters; mapping must not walk it byte by byte.
. "$(dirname "$0")/lib.sh"

for cs in 64k 2M; do
    img=big-$cs.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=$cs $img 4T
    qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 1T 4k' -c 'write -z 2T 1M' -c 'write -P 4 3T 64k' \
        -c 'write -P 3 4398046445568 64k' -c 'write -P 5 4398046511000 104' $img > /dev/null
    compare_map $img
    compare_human $img
    compare_guest_sparse $img
    compare_map $img --start-offset=3T --max-length=2G
    compare_map $img --start-offset=4398046511000
done

# An overlay of the same size over a short backing file.
qemu-img create -q -f qcow2 small.qcow2 1M
qemu-io -c 'write -P 6 0 1M' small.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b small.qcow2 -F qcow2 ov.qcow2 4T
qemu-io -c 'write -P 7 512k 4k' -c 'write -P 8 2T 64k' ov.qcow2 > /dev/null
compare_map ov.qcow2
compare_human ov.qcow2
compare_guest_sparse ov.qcow2
finish
