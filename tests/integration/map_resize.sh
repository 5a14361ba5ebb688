#!/bin/bash
# Images changed by `qemu-img resize`: grown (new area unallocated), shrunk
# with --shrink (clusters past the end dropped) and grown again; an
# overlay grown past its backing file; a backing file grown and shrunk
# under its overlay.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 r.qcow2 2M
qemu-io -c 'write -P 1 0 2M' r.qcow2 > /dev/null
qemu-img resize -q r.qcow2 5M
qemu-io -c 'write -P 2 4M 64k' r.qcow2 > /dev/null
compare_all r.qcow2
compare_human r.qcow2
qemu-img resize -q --shrink r.qcow2 1000k
assert_eq 1024000 "$(qemu-img info --output=json r.qcow2 | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')" "shrunk size"
compare_all r.qcow2
compare_human r.qcow2
qemu-img resize -q r.qcow2 3M
compare_all r.qcow2
compare_human r.qcow2

qemu-img create -q -f qcow2 base.qcow2 1M
qemu-io -c 'write -P 1 0 1M' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2
qemu-img resize -q ov.qcow2 3M
compare_all ov.qcow2
compare_human ov.qcow2
qemu-img resize -q base.qcow2 2M
qemu-io -c 'write -P 2 1M 1M' base.qcow2 > /dev/null
compare_all ov.qcow2
compare_human ov.qcow2
qemu-img resize -q --shrink base.qcow2 512k
compare_all ov.qcow2
compare_human ov.qcow2
qemu-img resize -q --shrink ov.qcow2 768k
compare_all ov.qcow2
finish
