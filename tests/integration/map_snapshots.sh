#!/bin/bash
# Internal snapshots: clusters shared with a snapshot (refcount 2, no
# COPIED flag) are rewritten, zeroed and discarded afterwards; then a
# snapshot is deleted and another applied. Only the active L1 is mapped.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 s.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -z 2M 64k' s.qcow2 > /dev/null
qemu-img snapshot -c snap1 s.qcow2
qemu-io -c 'write -P 2 512k 64k' -c 'write -z 0 64k' -c 'discard 128k 64k' -c 'write -P 3 3M 64k' s.qcow2 > /dev/null
qemu-img snapshot -c snap2 s.qcow2
qemu-io -c 'write -P 4 3M 4k' -c 'write -z -u 640k 64k' -c 'write -P 5 1M 4k' s.qcow2 > /dev/null
assert_eq 2 "$(qemu-img snapshot -l s.qcow2 | grep -c snap)" "snapshot count"
compare_all s.qcow2
compare_human s.qcow2

qemu-img snapshot -d snap1 s.qcow2
compare_all s.qcow2
compare_human s.qcow2

qemu-img snapshot -a snap2 s.qcow2
compare_all s.qcow2
compare_human s.qcow2

# A snapshot in an overlay, then writes over backing data.
qemu-img create -q -f qcow2 -b s.qcow2 -F qcow2 ov.qcow2
qemu-io -c 'write -P 6 0 128k' ov.qcow2 > /dev/null
qemu-img snapshot -c one ov.qcow2
qemu-io -c 'write -P 7 64k 4k' -c 'discard 0 64k' -c 'write -z 3M 64k' ov.qcow2 > /dev/null
compare_all ov.qcow2
compare_human ov.qcow2
finish
