#!/bin/bash
# An image held open for writing by another process (qemu-nbd, then
# qemu-io): we must refuse with qemu's 'Failed to get shared "write" lock'
# unless -U is given, with or without the lock being on a backing file; a
# read-only holder (qemu-nbd -r) does not stop us.
. "$(dirname "$0")/lib.sh"

LOCK_MSG='Failed to get shared "write" lock'
qemu-img create -q -f qcow2 base.qcow2 1M
qemu-io -c 'write -P 1 0 64k' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2
qemu-io -c 'write -P 2 128k 64k' ov.qcow2 > /dev/null

# shellcheck disable=SC2016 # expanded when the hook runs
at_exit '[ -s nbd.pid ] && kill "$(cat nbd.pid)"'
start_nbd() { # [qemu-nbd options] IMAGE
    qemu-nbd --fork --persistent -t -k "$T/nbd.sock" --pid-file="$T/nbd.pid" -f qcow2 "$@"
}
stop_nbd() { # stop qemu-nbd and wait until it has gone with its locks
    local pid _
    pid=$(cat nbd.pid)
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2> /dev/null || fail "qemu-nbd $pid did not stop"
    rm -f nbd.pid
}

start_nbd base.qcow2
wait_for_write_lock base.qcow2
expect_fail "$LOCK_MSG" "$MAP" base.qcow2
expect_fail "$LOCK_MSG" "$MAP" --output=json base.qcow2
expect_fail "$LOCK_MSG" "$MAP" ov.qcow2
compare_map -U base.qcow2
compare_human -U base.qcow2
compare_map -U ov.qcow2
stop_nbd
compare_map base.qcow2

start_nbd ov.qcow2
wait_for_write_lock ov.qcow2
expect_fail "$LOCK_MSG" "$MAP" ov.qcow2
expect_fail "$LOCK_MSG" "$MAP" --output=json --start-offset=64k ov.qcow2
compare_map -U ov.qcow2
compare_map base.qcow2
stop_nbd

start_nbd -r ov.qcow2
for _ in $(seq 50); do [ -S nbd.sock ] && break; sleep 0.1; done
compare_map ov.qcow2
compare_human ov.qcow2
stop_nbd

# qemu-io as the writer, in the background.
qemu-io -c 'sleep 60000' ov.qcow2 > /dev/null &
qio=$!
at_exit "kill $qio"
wait_for_write_lock ov.qcow2
expect_fail "$LOCK_MSG" "$MAP" ov.qcow2
compare_map -U ov.qcow2
kill $qio
wait $qio || true
compare_map ov.qcow2
finish
