#!/bin/bash
# Crash injection while the rebase grows the refcount table (512-byte
# clusters, 64-bit refcounts: see rebase_refcount_growth.sh): new refcount
# blocks, a new table, the header switch, the old table freed, then the
# backing reference.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"
. "$(dirname "$0")/lib_crash_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 8M
qemu-io -c 'write -P 1 4M 64k' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 8M
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 -b old.qcow2 -F qcow2 ov.qcow2 8M
qemu-io -c 'write -P 2 0 1950k' ov.qcow2 >/dev/null
crash_all ov.qcow2 new.qcow2 qcow2
finish
