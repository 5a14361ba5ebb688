# Shared helpers for integration scenarios; source it first:
#   . "$(dirname "$0")/lib.sh"
# Each scenario gets its own directory ($T), kept when the script fails.
set -euo pipefail

: "${IMGMEND_BIN_DIR:?run through meson test}"
: "${IMGMEND_TEST_TOOLS:?run through meson test}"
MAP="$IMGMEND_BIN_DIR/imgmend-map"
GUEST_READ="$IMGMEND_TEST_TOOLS/guest_read"
T=$(mktemp -d "${TMPDIR:-/tmp}/imgmend-$(basename "$0" .sh)-XXXXXX")
# Hooks registered with at_exit run first, so a background process a
# scenario started is stopped even when a check fails.
EXIT_HOOKS=()
on_exit() {
    local rc=$? hook
    for hook in "${EXIT_HOOKS[@]}"; do eval "$hook" || true; done
    if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap on_exit EXIT
cd "$T"

CHECKS=0
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { CHECKS=$((CHECKS + 1)); }

assert_eq() { # expected actual what
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
    pass
}

# qemu-img map --output=json, one extent per line, without our extra key.
qemu_map_json() { qemu-img map --output=json "$@"; }
our_map_json() { "$MAP" --output=json "$@" | sed 's/, "compressed": [a-z]*//'; }

# compare_map IMAGE [map options]: our JSON extents equal qemu-img's.
compare_map() {
    qemu_map_json "$@" > qemu.json || fail "qemu-img map $*"
    our_map_json "$@" > ours.json || fail "imgmend-map $*"
    if ! diff -u qemu.json ours.json >&2; then fail "map differs for $*"; fi
    pass
}

# compare_human IMAGE [options]: the human table equals qemu-img's.
compare_human() {
    qemu-img map "$@" > qemu.txt 2>&1 || true
    "$MAP" "$@" > ours.txt 2>&1 || true
    if ! diff -u <(grep -v '^qemu-img' qemu.txt) <(grep -v '^imgmend-map' ours.txt) >&2; then
        fail "human map differs for $*"
    fi
    pass
}

# compare_guest IMAGE: our guest reader returns what qemu-img convert does.
compare_guest() {
    qemu-img convert -O raw "$1" qemu.raw || fail "qemu-img convert $1"
    "$GUEST_READ" "$1" ours.raw || fail "guest_read $1"
    cmp qemu.raw ours.raw || fail "guest data differs for $1"
    rm -f qemu.raw ours.raw
    pass
}

# Both of the above.
compare_all() { compare_map "$1"; compare_guest "$1"; }

# at_exit COMMAND: run COMMAND (in $T) when the script exits, pass or fail.
at_exit() { EXIT_HOOKS+=("cd \"$T\" && $1"); }

# compare_human_rc IMAGE [options]: like compare_human, and the exit
# status and the error message (past each program's prefix) match too.
compare_human_rc() {
    local qrc=0 orc=0
    qemu-img map "$@" > qemu.txt 2> qemu.err || qrc=$?
    "$MAP" "$@" > ours.txt 2> ours.err || orc=$?
    [ "$qrc" = "$orc" ] || fail "exit status of map $*: qemu-img $qrc, imgmend-map $orc"
    if ! diff -u qemu.txt ours.txt >&2; then fail "human map differs for $*"; fi
    if ! diff -u <(sed 's/^qemu-img: //' qemu.err) <(sed 's/^imgmend-map: error: //' ours.err) >&2; then
        fail "error message differs for $*"
    fi
    pass
}

# compare_map_fails [map options]: qemu-img and we both refuse; each
# program's stderr is left in qemu.err and ours.err.
compare_map_fails() {
    if qemu_map_json "$@" > qemu.json 2> qemu.err; then fail "qemu-img map $* succeeded"; fi
    if "$MAP" --output=json "$@" > ours.json 2> ours.err; then fail "imgmend-map $* succeeded"; fi
    [ -s ours.err ] || fail "imgmend-map $* failed without a message"
    pass
}

# expect_fail TEXT COMMAND...: COMMAND exits non-zero within 20 s and its
# stderr (left in fail.err) contains TEXT.
expect_fail() {
    local text=$1 rc=0
    shift
    timeout 20 "$@" > fail.out 2> fail.err || rc=$?
    [ $rc -ne 0 ] || fail "$* succeeded"
    [ $rc -ne 124 ] || fail "$* did not finish within 20 s"
    grep -qF -- "$text" fail.err || fail "$*: stderr lacks '$text': $(cat fail.err)"
    pass
}

# compare_guest_as FORMAT IMAGE: compare_guest with the format forced.
compare_guest_as() {
    qemu-img convert -f "$1" -O raw "$2" qemu.raw || fail "qemu-img convert -f $1 $2"
    "$GUEST_READ" -f "$1" "$2" ours.raw || fail "guest_read -f $1 $2"
    cmp qemu.raw ours.raw || fail "guest data differs for -f $1 $2"
    rm -f qemu.raw ours.raw
    pass
}

# compare_guest_sparse IMAGE: compare_guest for a huge sparse image; holes
# are skipped by `qemu-img compare` where cmp would read every byte.
compare_guest_sparse() {
    qemu-img convert -O raw "$1" qemu.raw || fail "qemu-img convert $1"
    "$GUEST_READ" "$1" ours.raw || fail "guest_read $1"
    assert_eq "$(stat -c %s qemu.raw)" "$(stat -c %s ours.raw)" "guest size of $1"
    qemu-img compare -q -f raw -F raw qemu.raw ours.raw || fail "guest data differs for $1"
    rm -f qemu.raw ours.raw
    pass
}

# our_compressed_extents IMAGE [options]: how many extents we mark compressed.
our_compressed_extents() { "$MAP" --output=json "$@" | grep -c '"compressed": true' || true; }

# wait_for_write_lock IMAGE: wait until another process holds IMAGE open
# for writing, as qemu-img sees it.
wait_for_write_lock() {
    local _
    for _ in $(seq 300); do
        if ! qemu-img map "$1" > /dev/null 2> lock.err && grep -q 'Failed to get shared "write" lock' lock.err; then
            return 0
        fi
        sleep 0.1
    done
    fail "$1 never became locked"
}

# wait_for_unlock IMAGE: wait until qemu-img can open IMAGE again.
wait_for_unlock() {
    local _
    for _ in $(seq 300); do
        if qemu-img map "$1" > /dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    fail "$1 stayed locked"
}

# qemu-img create for a LUKS-encrypted image. qemu times its key derivation
# in thread CPU time and gives up ("Unable to get accurate CPU usage") when a
# busy machine reports none; a few attempts get past that.
create_luks() { # qemu-img create arguments after -f qcow2
    local attempt
    for attempt in 1 2 3 4 5; do
        qemu-img create -q --object secret,id=s0,data=secret -f qcow2 "$@" 2>luks.err && return 0
        grep -q "accurate CPU usage" luks.err || break
    done
    fail "qemu-img create (luks): $(cat luks.err)"
}
finish() { echo "ok: $CHECKS checks"; }
