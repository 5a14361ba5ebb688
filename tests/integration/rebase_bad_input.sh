#!/bin/bash
# Refused rebases: each ends with one clear error line, a non-zero exit,
# and the overlay byte-identical.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c 'write -P 1 0 1M' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2 4M
qemu-io -c 'write -P 2 64k 64k' ov.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b ov.qcow2 -F qcow2 top.qcow2 4M

# A new backing file that does not exist (safe mode opens it).
expect_refused "missing\.qcow2" ov.qcow2 -b missing.qcow2 -F qcow2
# A non-empty -b without -F (qemu-img 7.2 probes; we require the format).
expect_refused "-F" ov.qcow2 -b new.qcow2
# A backing format that is not one.
expect_refused "vmdk2|format" ov.qcow2 -b new.qcow2 -F vmdk2
# No -b at all.
expect_refused "-b" ov.qcow2
# Names longer than 1023 bytes, in either mode.
long=$(printf 'n%.0s' $(seq 1 1024))
expect_refused "too long|1023" ov.qcow2 -b "$long" -F qcow2
expect_refused "too long|1023" ov.qcow2 -u -b "$long" -F qcow2
# A name that does not fit the header cluster (512-byte clusters).
qemu-img create -q -f qcow2 -o cluster_size=512 -b base.qcow2 -F qcow2 small.qcow2 4M
expect_refused "cluster|fit|long" small.qcow2 -u -b "$(printf 's%.0s' $(seq 1 600))" -F qcow2
# Loops: onto itself, and a backing file onto its own overlay (both modes
# of locking: -U lets the loop itself be seen rather than a lock).
expect_refused "loop|own backing|lock" ov.qcow2 -b ov.qcow2 -F qcow2
expect_refused "loop|own backing" ov.qcow2 -U -b ov.qcow2 -F qcow2
expect_refused "loop|own backing|lock" base.qcow2 -b ov.qcow2 -F qcow2
expect_refused "loop|own backing" base.qcow2 -U -b top.qcow2 -F qcow2
expect_refused "loop|own backing" base.qcow2 -U -b "$T/ov.qcow2" -F qcow2
# Not a qcow2 overlay.
qemu-img create -q -f raw plain.raw 1M
expect_refused "qcow2" plain.raw -b base.qcow2 -F qcow2
expect_refused "qcow2" ov.qcow2 -f raw -b base.qcow2 -F qcow2
# Conflicting options, refused before the overlay is opened: -F and -B
# naming two formats, in either mode; -u with -c (an unsafe rebase copies
# nothing to compress).
expect_refused "-F qcow2 and -B raw name different" ov.qcow2 -b new.qcow2 -F qcow2 -B raw
expect_refused "-F raw and -B qcow2 name different" ov.qcow2 -u -b new.qcow2 -B qcow2 -F raw
assert_eq 1 "$(grep -c . refused.err)" "lines on stderr for -F raw -B qcow2"
expect_refused "-c cannot be used with -u" ov.qcow2 -u -c -b new.qcow2 -F qcow2
expect_refused "-c cannot be used with -u" ov.qcow2 -c -u -b ""
assert_eq 1 "$(grep -c . refused.err)" "lines on stderr for -u -c"
rc=0
"$REBASE" -b base.qcow2 -F qcow2 nothing.qcow2 2> refused.err || rc=$?
if [ "$rc" = 0 ] || ! grep -q "^imgmend-rebase: error: .*nothing.qcow2" refused.err; then
    fail "a missing overlay: exit $rc, $(cat refused.err)"
fi
pass
[ ! -e nothing.qcow2 ] || fail "a missing overlay was created"
pass
# An encrypted overlay: safe mode would have to decrypt and encrypt.
create_luks -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 \
    -b base.qcow2 -F qcow2 enc.qcow2 4M
expect_refused "encrypt" enc.qcow2 -b new.qcow2 -F qcow2
expect_refused "encrypt" enc.qcow2 -b ""

# An overlay in use by another process (qemu-nbd holds its write lock).
qemu-nbd --fork --persistent -t -k "$T/nbd.sock" -f qcow2 --pid-file="$T/nbd.pid" ov.qcow2 ||
    fail "qemu-nbd did not start"
# shellcheck disable=SC2016  # expanded when the hook runs
at_exit '[ ! -f nbd.pid ] || kill "$(cat nbd.pid)" 2>/dev/null'
wait_for_write_lock ov.qcow2
expect_refused "lock|in use|another process" ov.qcow2 -b new.qcow2 -F qcow2
expect_refused "lock|in use|another process" ov.qcow2 -u -b new.qcow2 -F qcow2
expect_refused "lock|in use|another process" ov.qcow2 -U -b new.qcow2 -F qcow2
kill "$(cat nbd.pid)"
rm -f nbd.pid
wait_for_unlock ov.qcow2

# The new backing file in use by a writer: refused, unless -U (no locks on
# the backing files, as qemu-img rebase -U).
qemu-nbd --fork --persistent -t -k "$T/nbd.sock" -f qcow2 --pid-file="$T/nbd.pid" new.qcow2 ||
    fail "qemu-nbd did not start"
wait_for_write_lock new.qcow2
expect_refused "lock|in use|another process" ov.qcow2 -b new.qcow2 -F qcow2
guest_raw ov.qcow2 before.raw
cp ov.qcow2 ov-U.qcow2
rebase -U -b new.qcow2 -F qcow2 ov-U.qcow2
kill "$(cat nbd.pid)"
rm -f nbd.pid
wait_for_unlock new.qcow2
expect_guest before.raw ov-U.qcow2
expect_clean ov-U.qcow2

# Free again: the same rebase now goes through.
rebase -b new.qcow2 -F qcow2 ov.qcow2
expect_guest before.raw ov.qcow2
finish
