#!/bin/bash
# Backing files shorter and longer than their overlay, raw and qcow2, at
# depth 1 and 2: past the end of a short backing file the guest reads
# zeros owned by the overlay; a long one is cut at the overlay's size.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 short.qcow2 1M
qemu-io -c 'write -P 1 0 1M' short.qcow2 > /dev/null
qemu-img create -q -f raw short.raw 1000k
qemu-io -f raw -c 'write -P 2 0 1000k' short.raw > /dev/null
qemu-img create -q -f qcow2 long.qcow2 8M
qemu-io -c 'write -P 3 0 8M' -c 'discard 2M 64k' long.qcow2 > /dev/null
qemu-img create -q -f raw long.raw 8M
qemu-io -f raw -c 'write -P 4 1M 7M' long.raw > /dev/null

for base in short.qcow2 short.raw long.qcow2 long.raw; do
    fmt=${base##*.}
    ov=over-${base%.*}-$fmt.qcow2
    qemu-img create -q -f qcow2 -b $base -F "$fmt" "$ov" 3M
    qemu-io -c 'write -P 5 900k 200k' -c 'write -P 6 2M 4k' "$ov" > /dev/null
    compare_all "$ov"
    compare_human "$ov"
    compare_map "$ov" --start-offset=960k --max-length=200k

    # Depth 2: a middle layer of a third size.
    top=top-${base%.*}-$fmt.qcow2
    qemu-img create -q -f qcow2 -b "$ov" -F qcow2 "$top" 5M
    qemu-io -c 'write -P 7 4M 4k' "$top" > /dev/null
    compare_all "$top"
    compare_human "$top"
done
finish
