#!/bin/bash
# Persistent dirty bitmaps (header extension, bitmap directory and tables
# allocated among the data clusters) must not change the map.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 bm.qcow2 4M
qemu-io -c 'write -P 1 0 1M' bm.qcow2 > /dev/null
qemu-img bitmap --add bm.qcow2 b0
qemu-img bitmap --add -g 128k bm.qcow2 b1
qemu-io -c 'write -P 2 2M 64k' -c 'write -z 1M 64k' bm.qcow2 > /dev/null
qemu-img bitmap --disable bm.qcow2 b1
qemu-img bitmap --add --disable bm.qcow2 b2
qemu-img bitmap --merge b0 bm.qcow2 b2
qemu-io -c 'write -P 3 3M 64k' -c 'discard 0 64k' bm.qcow2 > /dev/null
assert_eq 3 "$(qemu-img info bm.qcow2 | grep -c 'name: b')" "bitmap count"
compare_all bm.qcow2
compare_human bm.qcow2

# An overlay with its own bitmap over a base with bitmaps.
qemu-img create -q -f qcow2 -b bm.qcow2 -F qcow2 ov.qcow2
qemu-img bitmap --add -g 512k ov.qcow2 top
qemu-io -c 'write -P 4 1M 4k' ov.qcow2 > /dev/null
compare_all ov.qcow2
compare_human ov.qcow2

qemu-img bitmap --remove bm.qcow2 b1
compare_all ov.qcow2

# A writer that died with the bitmap open leaves it flagged in-use.
qemu-img create -q -f qcow2 inuse.qcow2 2M
qemu-img bitmap --add inuse.qcow2 b0
(ulimit -c 0; qemu-io -c 'write -P 1 0 64k' -c 'write -z 1M 64k' -c abort inuse.qcow2) > /dev/null 2>&1 || true
qemu-img info inuse.qcow2 | grep -q 'in-use' || fail "bitmap of inuse.qcow2 not in use"
pass
compare_all inuse.qcow2
compare_human inuse.qcow2
finish
