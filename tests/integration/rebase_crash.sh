#!/bin/bash
# Crash injection: a rebase stopped after any of its writes leaves an
# overlay whose guest view is the original one exactly (through the old
# backing before the header switch, the new one after), never a mix, and
# which qemu-img check finds at worst leaking.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"
. "$(dirname "$0")/lib_crash_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 3 2M 256k' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 512k' -c 'write -P 7 640k 64k' -c 'write -P 5 3M 128k' new.qcow2 >/dev/null

# Standard clusters: copied data, zero clusters, a new L2 table.
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 ov.qcow2 4M
qemu-io -c 'write -P 2 64k 64k' -c 'write -P 2 2M 4k' ov.qcow2 >/dev/null
crash_all ov.qcow2 new.qcow2 qcow2
crash_all ov.qcow2 "" ""
crash_all -c ov.qcow2 new.qcow2 qcow2
# -u keeps the guest view only onto a backing of the same content.
cp old.qcow2 old-copy.qcow2
crash_all -u ov.qcow2 old-copy.qcow2 qcow2

# Extended L2: subclusters written beside the overlay's own in its cluster.
qemu-img create -q -f qcow2 -o extended_l2=on -b old.qcow2 -F qcow2 ext.qcow2 4M
qemu-io -c 'write -P 2 512k 2k' -c 'write -P 2 2M 6k' -c 'write -z 3M 2k' ext.qcow2 >/dev/null
crash_all ext.qcow2 new.qcow2 qcow2

# In-chain: dropping mid (its zeros over old data become zero clusters).
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 mid.qcow2 4M
qemu-io -c 'write -P 4 256k 128k' -c 'write -z 2M 64k' mid.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 4M
qemu-io -c 'write -P 6 0 64k' top.qcow2 >/dev/null
crash_all top.qcow2 old.qcow2 qcow2

# Version 2 (zeros written as data), onto a raw file.
qemu-img convert -O raw new.qcow2 new.raw
qemu-img create -q -f qcow2 -o compat=0.10 -b old.qcow2 -F qcow2 v2.qcow2 4M
qemu-io -c 'write -P 2 64k 64k' v2.qcow2 >/dev/null
crash_all v2.qcow2 new.raw raw
finish
