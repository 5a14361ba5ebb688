#!/bin/bash
# -B FMT is a synonym of -F FMT (the synopsis: [-F FMT | -B FMT]); both may
# be given when they agree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 4M
qemu-io -c 'write -P 1 0 2M' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 1M' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 ov.qcow2 4M
guest_raw ov.qcow2 before.raw
cp ov.qcow2 ov-B.qcow2

# -B FMT as -F FMT.
"$REBASE" -b new.qcow2 -B qcow2 ov-B.qcow2 2> B.err || { cat B.err >&2; fail "imgmend-rebase -B qcow2"; }
pass
expect_backing ov-B.qcow2 new.qcow2 qcow2
expect_guest before.raw ov-B.qcow2

# Both, naming the same format: accepted (two different ones are refused,
# see rebase_bad_input.sh).
cp ov.qcow2 ov-FB.qcow2
"$REBASE" -b new.qcow2 -F qcow2 -B qcow2 ov-FB.qcow2 2> FB.err || { cat FB.err >&2; fail "imgmend-rebase -F qcow2 -B qcow2"; }
pass
expect_backing ov-FB.qcow2 new.qcow2 qcow2
expect_guest before.raw ov-FB.qcow2
finish
