#!/bin/bash
# -p prints progress on stderr (nothing on stdout) ending at 100%; without
# it a successful run prints nothing; --help names the options.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 64M
qemu-io -c 'write -P 1 0 8M' -c 'write -P 1 40M 8M' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 64M
qemu-io -c 'write -P 1 0 4M' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 ov.qcow2 64M
guest_raw ov.qcow2 before.raw
for f in p plain; do cp ov.qcow2 "ov-$f.qcow2"; done

# -p: a progress line on stderr, ending at 100%, stdout empty.
"$REBASE" -p -b new.qcow2 -F qcow2 ov-p.qcow2 > p.out 2> p.err || fail "imgmend-rebase -p"
pass
assert_eq 0 "$(stat -c %s p.out)" "bytes on stdout with -p"
grep -q '100.00/100%' p.err || fail "no final 100% progress on stderr: $(od -c p.err | head -5)"
pass
# Nothing but progress records "    (NN.NN/100%)", as qemu-img draws them.
others=$(tr '\r' '\n' < p.err | grep -Ev '^( *\([0-9]{1,3}\.[0-9]{2}/100%\))?$' || true)
assert_eq "" "$others" "stderr lines other than progress with -p"
expect_guest before.raw ov-p.qcow2

# No -p: nothing at all on either stream.
"$REBASE" -b new.qcow2 -F qcow2 ov-plain.qcow2 > plain.out 2> plain.err || fail "imgmend-rebase"
pass
assert_eq "0 0" "$(stat -c %s plain.out) $(stat -c %s plain.err)" "output of a quiet successful run"

# --help exits 0 and names every option of the synopsis.
"$REBASE" --help > help.txt || fail "--help"
pass
for o in -b -F -u -c -p -q -U -f; do
    grep -q -e "$o" help.txt || fail "--help does not mention $o"
done
pass
finish
