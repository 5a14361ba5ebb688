# Shared helpers for integration scenarios; source it first:
#   . "$(dirname "$0")/lib.sh"
# Each scenario gets its own directory ($T), kept when the script fails.
set -euo pipefail

: "${IMGMEND_BIN_DIR:?run through meson test}"
: "${IMGMEND_TEST_TOOLS:?run through meson test}"
MAP="$IMGMEND_BIN_DIR/imgmend-map"
GUEST_READ="$IMGMEND_TEST_TOOLS/guest_read"
T=$(mktemp -d "${TMPDIR:-/tmp}/imgmend-$(basename "$0" .sh)-XXXXXX")
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$T"; else echo "kept $T" >&2; fi' EXIT
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

finish() { echo "ok: $CHECKS checks"; }
