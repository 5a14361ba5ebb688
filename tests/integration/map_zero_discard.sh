#!/bin/bash
# Zero writes (write -z, with and without -u) and discards over allocated
# data, over nothing, over a backing file's data and across partial
# clusters (where qemu writes explicit zeros or does nothing).
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 alone.qcow2 4M
qemu-io -c 'write -P 1 0 2M' -c 'write -z 0 64k' -c 'write -z -u 128k 128k' -c 'discard 512k 64k' \
    -c 'write -z 3M 64k' -c 'write -z -u 3200k 64k' -c 'discard 3300k 64k' \
    -c 'write -z 1000k 10k' -c 'discard 1200k 10k' -c 'write -z 1500k 100k' alone.qcow2 > /dev/null
compare_all alone.qcow2
compare_human alone.qcow2

qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c 'write -P 1 0 4M' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2
qemu-io -c 'write -z 0 64k' -c 'write -z -u 128k 64k' -c 'discard 256k 64k' -c 'write -z 400k 1k' \
    -c 'discard 500k 1k' -c 'write -P 2 1M 1M' -c 'write -z 1M 64k' -c 'write -z -u 1152k 64k' \
    -c 'discard 1280k 128k' -c 'discard 1600k 4k' -c 'write -z 2M 1M' ov.qcow2 > /dev/null
compare_all ov.qcow2
compare_human ov.qcow2
compare_map ov.qcow2 --start-offset=1100k --max-length=300k

# Zeroing and discarding everything.
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 wiped.qcow2
qemu-io -c 'write -P 3 0 4M' -c 'write -z -u 0 2M' -c 'discard 2M 2M' wiped.qcow2 > /dev/null
compare_all wiped.qcow2
compare_human wiped.qcow2
finish
