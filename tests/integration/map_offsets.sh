#!/bin/bash
# --start-offset and --max-length windows over a three-layer chain:
# aligned and unaligned, inside one extent, across layer changes, up to and
# past the end, with size suffixes.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f raw base.raw 4M
qemu-io -f raw -c 'write -P 1 0 1M' -c 'write -P 9 3M 100k' base.raw > /dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 5M
qemu-io -c 'write -P 2 512k 64k' -c 'write -z 3M 64k' -c 'discard 0 64k' mid.qcow2 > /dev/null
qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 -F qcow2 top.qcow2 6M
qemu-io -c 'write -P 5 1028k 4k' -c 'write -z 2M 4k' -c 'discard 3076k 8k' top.qcow2 > /dev/null

windows=(
    "--start-offset=0"
    "--max-length=1"
    "--start-offset=1000k --max-length=2000k"
    "--start-offset=12345 --max-length=54321"
    "--start-offset=100 --max-length=1"
    "--start-offset=524288 --max-length=65536"
    "--start-offset=524289 --max-length=65534"
    "--start-offset=1030k --max-length=1k"
    "--start-offset=5M"
    "--start-offset=5242879 --max-length=100"
    "--start-offset=6291455"
    "--start-offset=1M --max-length=1T"
    "--start-offset=4096B --max-length=2m"
    "--start-offset=1K --max-length=1G"
)
for w in "${windows[@]}"; do
    # shellcheck disable=SC2086 # each window is several words
    compare_map top.qcow2 $w
    # shellcheck disable=SC2086
    compare_human top.qcow2 $w
done
compare_map base.raw --start-offset=3M --max-length=200k
compare_map mid.qcow2 --start-offset=4M
finish
