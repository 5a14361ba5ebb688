#!/bin/bash
# -q wins over -p, as in qemu-img rebase (which then prints nothing).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 4M
qemu-io -c 'write -P 1 0 2M' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 1M' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 ov.qcow2 4M
guest_raw ov.qcow2 before.raw
cp ov.qcow2 ov-q.qcow2

# -q wins over -p (qemu-img rebase -p -q prints nothing).
"$REBASE" -p -q -b new.qcow2 -F qcow2 ov-q.qcow2 > q.out 2> q.err || fail "imgmend-rebase -p -q"
pass
assert_eq "0 0" "$(stat -c %s q.out) $(stat -c %s q.err)" "output of -p -q"
expect_guest before.raw ov-q.qcow2
finish
