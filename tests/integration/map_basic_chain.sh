#!/bin/bash
# A two-layer qcow2 chain with data, zero writes and a discard on the overlay.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -z 2M 64k' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2 6M
qemu-io -c 'write -P 2 512k 1M' -c 'discard 0 64k' ov.qcow2 >/dev/null

compare_all ov.qcow2
compare_all base.qcow2
compare_human ov.qcow2
compare_map ov.qcow2 --start-offset=100k --max-length=1M
finish
