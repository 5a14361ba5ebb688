#!/bin/bash
# The size syntax of --start-offset/--max-length as qemu-img parses it
# (qemu_strtosz): suffixes in either case, fractions with a suffix,
# hexadecimal; and the values both must refuse (no number, a fraction
# without suffix, exponents, negatives, more than INT64_MAX).
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 img.qcow2 8M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 2 2M 64k' -c 'write -z 3M 1M' img.qcow2 > /dev/null

# Values that leave a non-empty window (empty ones: map_empty_range).
for ok in 0 4096 4096b 4096B 1k 1K 1m 1M 1.5M 0.5k 1.25k 0x1000 0x100000; do
    compare_map img.qcow2 --start-offset=$ok --max-length=4M
done
for ok in 4096 4096b 1k 1K 1m 1M 1.5M 0.5k 1.25k 0x1000 1g 1G 1t 1T 0.5T 9223372036854775807; do
    compare_map img.qcow2 --max-length=$ok
done
for bad in abc 1.5 1e3 -1 -5k 12Q 8E 9223372036854775808; do
    compare_map_fails img.qcow2 --start-offset=$bad
    compare_map_fails img.qcow2 --max-length=$bad
done
finish
