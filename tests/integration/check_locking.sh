#!/bin/bash
# Locking: with a writer holding the image (qemu-nbd, read-write),
# imgmend-check refuses like qemu-img check (exit 1, 'Failed to get shared
# "write" lock'); with -U it checks and warns; a read-only holder does not
# stop it (behaviour doc 7).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

NBD_PID=
stop_nbd() {
    if [ -n "$NBD_PID" ]; then
        kill "$NBD_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$NBD_PID" 2>/dev/null || break; sleep 0.05; done
        NBD_PID=
    fi
}
# Stop qemu-nbd whatever happens.
at_exit stop_nbd

start_nbd() { # IMAGE [qemu-nbd options]
    local img=$1; shift
    qemu-nbd --fork --persistent -t -k "$T/nbd.sock" --pid-file="$T/nbd.pid" "$@" -f qcow2 "$img" ||
        fail "qemu-nbd did not start"
    NBD_PID=$(cat "$T/nbd.pid")
    pass
}

mkbase img.qcow2
poke img.qcow2 l2 0x100000 0          # a leak, so -U has something to find
compare_full img.qcow2

start_nbd img.qcow2
for args in "" "--output=json" "-q"; do
    qrc=0 orc=0
    qemu-img check $args img.qcow2 > /dev/null 2> qemu.err || qrc=$?
    "$CHECK" $args img.qcow2 > ours.out 2> ours.err || orc=$?
    assert_eq 1 "$qrc" "qemu-img check $args exit code with a writer"
    assert_eq 1 "$orc" "imgmend-check $args exit code with a writer"
    grep -q 'Failed to get shared "write" lock' ours.err || fail "lock message ($args): $(cat ours.err)"
    pass
    [ ! -s ours.out ] || fail "stdout when the open failed ($args): $(head -3 ours.out)"
    pass
done

# -U: checks (the same result as qemu-img check -U) and warns about the writer.
qrc=0 orc=0
qemu-img check -U --output=json img.qcow2 > qemu-u.json 2>/dev/null || qrc=$?
"$CHECK" -U --output=json img.qcow2 > ours-u.json 2> ours-u.err || orc=$?
assert_eq 3 "$qrc" "qemu-img check -U exit code"
assert_eq "$qrc" "$orc" "imgmend-check -U exit code"
q=$(jq -S 'del(.filename)' qemu-u.json)
o=$(jq -S 'del(.findings, .filename)' ours-u.json)
[ "$q" = "$o" ] || { diff -u <(echo "$q") <(echo "$o") >&2; fail "-U JSON differs"; }
pass
grep -qi 'warning' ours-u.err || fail "no warning about the writer with -U: $(cat ours-u.err)"
pass
grep -qi 'another process' ours-u.err || fail "the -U warning does not name the writer: $(cat ours-u.err)"
pass
jq -e '[.findings[] | select(.kind == "refcount-too-high" and .cluster == 6)] | length == 1' ours-u.json >/dev/null ||
    fail "-U findings: $(jq -c .findings ours-u.json)"
pass
"$CHECK" -U img.qcow2 > ours-u.txt 2>/dev/null || true
qemu-img check -U img.qcow2 > qemu-u.txt 2>/dev/null || true
diff -u qemu-u.txt ours-u.txt >&2 || fail "-U human summary differs"
pass
stop_nbd

# Without a holder: no warning.
"$CHECK" -U img.qcow2 > /dev/null 2> ours-u.err || true
! grep -qi 'another process' ours-u.err || fail "writer warning without a writer"
pass

# A read-only holder does not stop the check.
start_nbd img.qcow2 -r
compare_full img.qcow2
assert_eq 3 "$ORC" "exit code with a read-only holder"
stop_nbd
finish
