#!/bin/bash
# A rebase that outgrows the refcount table: 512-byte clusters with 64-bit
# refcounts make a one-cluster table cover only 2 MiB of file, so copying
# ~100k into a 1.95 MiB overlay needs new refcount blocks past the table's
# end and a larger table. The header that finally names the new backing
# must also keep the new table's offset and size.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"
POKE="$IMGMEND_TEST_TOOLS/../tools/poke"

qemu-img create -q -f qcow2 old.qcow2 8M
qemu-io -c 'write -P 1 4M 64k' -c 'write -P 1 6M 32k' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 8M
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 -b old.qcow2 -F qcow2 ov.qcow2 8M
qemu-io -c 'write -P 2 0 1950k' ov.qcow2 >/dev/null
assert_eq 1 "$("$POKE" ov.qcow2 get header refcount_table_clusters)" "refcount table clusters before"
guest_raw ov.qcow2 before.raw

rebase_vs_qemu ov.qcow2 -b new.qcow2 -F qcow2
expect_backing ov.qcow2 new.qcow2 qcow2
[ "$("$POKE" ov.qcow2 get header refcount_table_clusters)" -gt 1 ] ||
    fail "the refcount table did not grow (header: offset $("$POKE" --hex ov.qcow2 get header refcount_table_offset), $("$POKE" ov.qcow2 get header refcount_table_clusters) clusters)"
pass

# The same with -c (packed compressed clusters past the old table's reach).
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 -b old.qcow2 -F qcow2 ovc.qcow2 8M
qemu-io -c 'write -P 2 0 1950k' ovc.qcow2 >/dev/null
rebase -c -b new.qcow2 -F qcow2 ovc.qcow2
expect_clean ovc.qcow2
expect_guest before.raw ovc.qcow2
finish
