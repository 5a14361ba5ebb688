#!/bin/bash
# Locking: a repair takes qemu's write lock, so with qemu-nbd holding the
# image (read-write or read-only) every form of it refuses like
# `qemu-img check -r` ('Failed to get "write" lock', exit 1) and the image
# is unchanged; a dry run needs the shared lock a plain check needs, and
# runs with -U; -U never repairs. Once the holder is gone the repair works
# (behaviour doc 7).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

NBD_PID=
stop_nbd() {
    if [ -n "$NBD_PID" ]; then
        kill "$NBD_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$NBD_PID" 2>/dev/null || break; sleep 0.05; done
        NBD_PID=
    fi
}
at_exit stop_nbd

start_nbd() { # IMAGE [qemu-nbd options]
    local img=$1; shift
    qemu-nbd --fork --persistent -t -k "$T/nbd.sock" --pid-file="$T/nbd.pid" "$@" -f qcow2 "$img" ||
        fail "qemu-nbd did not start"
    NBD_PID=$(cat "$T/nbd.pid")
    pass
}

mkbase base.qcow2
cp base.qcow2 img.qcow2
poke img.qcow2 refcount "$(cluster_of "$(poke base.qcow2 get host 0)")" 0   # needs a rebuild
cp img.qcow2 before.qcow2

# expect_locked_out WHAT LOCK COMMAND...: exit 1, the lock message, the
# image unchanged.
expect_locked_out() {
    local what=$1 lock=$2 rc=0
    shift 2
    timeout 20 "$@" > locked.out 2> locked.err || rc=$?
    assert_eq 1 "$rc" "$what: exit code"
    grep -qF "Failed to get $lock lock" locked.err || fail "$what: no lock message: $(cat locked.err)"
    pass
    grep -q 'Is another process using the image' locked.err || fail "$what: $(cat locked.err)"
    pass
    expect_unchanged before.qcow2 img.qcow2 "$what"
}

for holder in "" -r; do
    start_nbd img.qcow2 $holder
    label="holder${holder:+ $holder}"
    qrc=0
    qemu-img check -r all img.qcow2 > /dev/null 2>&1 || qrc=$?
    assert_eq 1 "$qrc" "qemu-img check -r all with a $label"
    for mode in leaks all; do
        expect_locked_out "-r $mode with a $label" '"write"' "$REPAIR" -r $mode img.qcow2
        expect_locked_out "-r $mode --undo-file with a $label" '"write"' "$REPAIR" -r $mode --undo-file=u-$mode.bin img.qcow2
        expect_locked_out "imgmend-check -r $mode with a $label" '"write"' "$CHECK" -r $mode img.qcow2
    done
    # -U never repairs.
    expect_fail "-U cannot be used when repairing" "$REPAIR" -r all -U img.qcow2
    expect_unchanged before.qcow2 img.qcow2 "-r all -U with a $label"
    stop_nbd
done

# A dry run with a writer: the shared lock a plain check needs is refused
# too; with -U it runs (and still writes nothing).
start_nbd img.qcow2
expect_locked_out "--dry-run with a writer" 'shared "write"' "$REPAIR" -r all --dry-run img.qcow2
rc=0
"$REPAIR" -r all --dry-run -U img.qcow2 > dry.txt 2>/dev/null || rc=$?
assert_eq 2 "$rc" "--dry-run -U with a writer"
grep -q '^Planned changes' dry.txt || fail "--dry-run -U lists nothing: $(head -3 dry.txt)"
pass
expect_unchanged before.qcow2 img.qcow2 "--dry-run -U with a writer"

# --undo needs the write lock as well.
cp before.qcow2 undone.qcow2
our_repair all undone.qcow2 --undo-file=undo.bin
expect_rrc 0 "-r all without a holder"
stop_nbd
cp undone.qcow2 repaired.qcow2
start_nbd undone.qcow2
cp undone.qcow2 held.qcow2
rc=0
"$REPAIR" --undo undo.bin undone.qcow2 > /dev/null 2> undo.err || rc=$?
assert_eq 1 "$rc" "--undo with a writer"
grep -qF 'Failed to get "write" lock' undo.err || fail "--undo with a writer: $(cat undo.err)"
pass
expect_unchanged held.qcow2 undone.qcow2 "--undo with a writer"
stop_nbd

# Without a holder: repaired, clean.
our_repair all img.qcow2
expect_rrc 0 "-r all once the holder is gone"
expect_qemu_clean img.qcow2 "-r all once the holder is gone"
expect_same_guest base.qcow2 img.qcow2 "-r all once the holder is gone"
finish
