#!/bin/bash
# -f raw on qcow2 files (the container itself becomes the guest disk, its
# backing file ignored), raw files with and without holes, and -f qcow2
# on a raw file, which both refuse.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 base.qcow2 2M
qemu-io -c 'write -P 1 0 1M' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2
qemu-io -c 'write -P 2 512k 64k' -c 'write -c -P 3 1M 64k' ov.qcow2 > /dev/null

for img in base.qcow2 ov.qcow2; do
    compare_map -f raw $img
    compare_human -f raw $img
    compare_guest_as raw $img
    compare_map -f raw $img --start-offset=100k --max-length=100k
    compare_map -f qcow2 $img
done

# A raw file with holes (probed, then forced).
truncate -s 3M holes.raw
printf 'data' | dd of=holes.raw bs=1 seek=70000 conv=notrunc 2> /dev/null
dd if=/dev/urandom of=holes.raw bs=64k seek=20 count=4 conv=notrunc 2> /dev/null
compare_all holes.raw
compare_human holes.raw
compare_map -f raw holes.raw
compare_guest_as raw holes.raw

# A fully written raw file.
head -c 1M /dev/urandom > full.raw
compare_all full.raw
compare_human full.raw

compare_map_fails -f qcow2 holes.raw
finish
