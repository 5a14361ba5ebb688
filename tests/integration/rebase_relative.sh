#!/bin/bash
# Relative backing names resolve against the overlay's folder, never the
# working directory: the overlay lives in sub/, the names given are
# relative to sub/ and stored as given, and a decoy with the same name in
# the working directory is never read.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

mkdir -p sub backs
qemu-img create -q -f qcow2 backs/old.qcow2 4M
qemu-io -c 'write -P 1 0 2M' backs/old.qcow2 >/dev/null
qemu-img create -q -f qcow2 backs/new.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 5 3M 64k' backs/new.qcow2 >/dev/null
(cd sub && qemu-img create -q -f qcow2 -b ../backs/old.qcow2 -F qcow2 ov.qcow2 4M)
qemu-io -c 'write -P 2 64k 64k' sub/ov.qcow2 >/dev/null
# Decoys: what the names would reach from the working directory ($T).
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 0x66 0 4M' new.qcow2 >/dev/null
guest_raw sub/ov.qcow2 before.raw
cp sub/ov.qcow2 sub/ov2.qcow2
cp sub/ov.qcow2 sub/ov3.qcow2

# Relative to sub/: ../backs/new.qcow2.
rebase_vs_qemu sub/ov.qcow2 -b ../backs/new.qcow2 -F qcow2
expect_backing sub/ov.qcow2 ../backs/new.qcow2 qcow2
expect_guest before.raw sub/ov.qcow2
expect_local_zero sub/ov.qcow2 $((3 << 20)) $((64 << 10))

# A bare name: sub/new.qcow2 (a copy of backs/new.qcow2), not the decoy
# ./new.qcow2: with the decoy, 128k..1M would have been copied.
cp backs/new.qcow2 sub/new.qcow2
rebase_vs_qemu sub/ov2.qcow2 -b new.qcow2 -F qcow2
expect_backing sub/ov2.qcow2 new.qcow2 qcow2
expect_guest before.raw sub/ov2.qcow2
expect_local_zero sub/ov2.qcow2 $((3 << 20)) $((64 << 10))
expect_not_local sub/ov2.qcow2 $((128 << 10)) $((896 << 10))

# From another working directory, the overlay named by an absolute path.
(cd / && "$REBASE" -b ../backs/new.qcow2 -F qcow2 "$T/sub/ov3.qcow2") 2> rebase.err ||
    { cat rebase.err >&2; fail "rebase from / with an absolute overlay path"; }
pass
expect_backing sub/ov3.qcow2 ../backs/new.qcow2 qcow2
cmp sub/ov.qcow2 sub/ov3.qcow2 >&2 || fail "the rebase from another directory gave a different file"
pass

# A name that exists only relative to the working directory is refused.
rm sub/new.qcow2
cp sub/ov3.qcow2 sub/ov4.qcow2
expect_refused "new\.qcow2" sub/ov4.qcow2 -b new.qcow2 -F qcow2
# An absolute name is stored as given.
rebase -b "$T/backs/old.qcow2" -F qcow2 sub/ov4.qcow2
expect_backing sub/ov4.qcow2 "$T/backs/old.qcow2" qcow2
expect_guest before.raw sub/ov4.qcow2
expect_clean sub/ov4.qcow2
finish
