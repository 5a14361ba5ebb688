#!/bin/bash
# A lazy_refcounts image left dirty by a writer that aborted: refcounts
# are stale (check reports errors) but L2 tables are right, and a
# read-only map must neither repair nor refuse it.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 2M
(ulimit -c 0; qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 1M 128k' -c 'write -z 1536k 64k' -c abort lazy.qcow2) \
    > /dev/null 2>&1 || true
assert_eq "01" "$(od -A n -t x1 -j 79 -N 1 lazy.qcow2 | tr -d ' ')" "dirty bit"
cp lazy.qcow2 before.qcow2
compare_all lazy.qcow2
compare_human lazy.qcow2
cmp lazy.qcow2 before.qcow2 || fail "mapping changed the image"
pass

qemu-img create -q -f qcow2 -b lazy.qcow2 -F qcow2 ov.qcow2
qemu-io -c 'write -P 3 64k 64k' ov.qcow2 > /dev/null
compare_all ov.qcow2
finish
