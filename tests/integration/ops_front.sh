#!/bin/bash
# The imgmend front runs the same code as each imgmend-<command>: same
# output, same exit codes; help, --version, unknown commands and bad options.
. "$(dirname "$0")/lib.sh"

BIN=$IMGMEND_BIN_DIR
BUILD=$(cd "$BIN/.." && pwd)
POKE="$IMGMEND_TEST_TOOLS/../tools/poke"
TOOLS=(imgmend imgmend-check imgmend-repair imgmend-rebase imgmend-map imgmend-batch)
COMMANDS=(check repair rebase map batch)

# An image with data, a zero cluster and a leak (so check exits 3 and
# repair --dry-run has a plan to print), and its backing file.
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c 'write -P 7 2M 1M' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 img.qcow2 4M
qemu-io -c 'write -P 1 0 256k' -c 'write -z 1M 64k' -c 'write -P 2 3M 128k' img.qcow2 > /dev/null
"$POKE" img.qcow2 l2 0x300000 0 || fail "poke img.qcow2"
qemu-img create -q -f raw raw.img 1M

# same_as_tool COMMAND ARGS...: `imgmend COMMAND ARGS` and `imgmend-COMMAND
# ARGS` give the same stdout, stderr and exit status. Leaves the status in RC.
same_as_tool() {
    local cmd=$1 frc=0 trc=0
    shift
    "$BIN/imgmend" "$cmd" "$@" > front.out 2> front.err || frc=$?
    "$BIN/imgmend-$cmd" "$@" > tool.out 2> tool.err || trc=$?
    assert_eq "$trc" "$frc" "exit status of imgmend $cmd $*"
    diff -u tool.out front.out >&2 || fail "stdout of imgmend $cmd $* differs from imgmend-$cmd"
    diff -u tool.err front.err >&2 || fail "stderr of imgmend $cmd $* differs from imgmend-$cmd"
    pass
    RC=$trc
}

same_as_tool check img.qcow2
assert_eq 3 "$RC" "check exit status on a leaking image"
[ -s front.out ] || fail "imgmend check printed nothing"
same_as_tool check --output=json img.qcow2
assert_eq 1 "$(jq '.leaks' front.out)" "leaks in imgmend check --output=json"
same_as_tool check -r leaks --dry-run img.qcow2
same_as_tool check -f raw raw.img
assert_eq 63 "$RC" "check exit status on a raw image"
same_as_tool check missing.qcow2
assert_eq 1 "$RC" "check exit status on a missing file"
grep -q '^imgmend-check: ' front.err || fail "imgmend check missing.qcow2: no 'imgmend-check:' message: $(cat front.err)"
same_as_tool map img.qcow2
assert_eq 0 "$RC" "map exit status"
same_as_tool map --output=json img.qcow2
[ "$(jq length front.out)" -ge 4 ] || fail "imgmend map --output=json: too few extents: $(cat front.out)"
same_as_tool map --output=joint img.qcow2
same_as_tool map --totals --output=json img.qcow2
same_as_tool map --output=svg img.qcow2
same_as_tool repair -r leaks --dry-run img.qcow2
assert_eq 3 "$RC" "repair --dry-run exit status on a leaking image"
[ -s front.out ] || fail "imgmend repair --dry-run printed no plan"
same_as_tool repair -r all --dry-run --output=json img.qcow2
jq -e '."dry-run" == true' front.out > /dev/null || fail "repair --dry-run --output=json lacks dry-run: true"
pass
qemu-img check img.qcow2 > /dev/null 2>&1 && fail "the dry runs repaired the image"
pass

# --help for every tool and every command through the front: exit 0, a usage
# line naming the tool, the same text both ways.
for t in "${TOOLS[@]}"; do
    rc=0
    "$BIN/$t" --help > help.out 2> help.err || rc=$?
    assert_eq 0 "$rc" "$t --help exit status"
    grep -q "^Usage: $t " help.out || fail "$t --help lacks 'Usage: $t': $(head -3 help.out)"
    [ ! -s help.err ] || fail "$t --help wrote to stderr: $(cat help.err)"
    pass
done
for c in "${COMMANDS[@]}"; do
    same_as_tool "$c" --help
    assert_eq 0 "$RC" "imgmend $c --help exit status"
done

# imgmend help / --help / -h: the five commands and help, exit 0.
for h in help --help -h; do
    rc=0
    "$BIN/imgmend" "$h" > help.out 2> help.err || rc=$?
    assert_eq 0 "$rc" "imgmend $h exit status"
    for c in "${COMMANDS[@]}" help; do
        grep -qE "^  $c +[a-z]" help.out || fail "imgmend $h does not list '$c': $(cat help.out)"
    done
    pass
done

# imgmend help COMMAND (and --help COMMAND, -h COMMAND), as git: that
# command's --help, exit 0; an unknown command after help is an error.
for h in help --help -h; do
    for c in "${COMMANDS[@]}"; do
        rc=0
        "$BIN/imgmend" "$h" "$c" > help.out 2> help.err || rc=$?
        assert_eq 0 "$rc" "imgmend $h $c exit status"
        "$BIN/imgmend-$c" --help > tool-help.out
        diff -u tool-help.out help.out >&2 || fail "imgmend $h $c is not imgmend-$c --help"
        [ ! -s help.err ] || fail "imgmend $h $c wrote to stderr: $(cat help.err)"
        pass
    done
done
expect_fail "imgmend: error: unknown command 'frobnicate'" "$BIN/imgmend" help frobnicate
[ ! -s fail.out ] || fail "imgmend help frobnicate printed on stdout: $(cat fail.out)"
pass
"$BIN/imgmend" help help > help.out || fail "imgmend help help"
grep -qE "^  check +[a-z]" help.out || fail "imgmend help help does not list the commands: $(cat help.out)"
pass

# --version prints the meson project version.
VERSION=$(jq -r .version "$BUILD/meson-info/intro-projectinfo.json")
[ -n "$VERSION" ] && [ "$VERSION" != null ] || fail "no project version in $BUILD/meson-info"
grep -qF "version : '$VERSION'" "$IMGMEND_SOURCE_DIR/meson.build" || fail "meson.build does not declare version $VERSION"
rc=0
OUT=$("$BIN/imgmend" --version) || rc=$?
assert_eq 0 "$rc" "imgmend --version exit status"
assert_eq "imgmend $VERSION" "$OUT" "imgmend --version"

# Unknown command, and no command at all: exit 1, a clear message.
rc=0
"$BIN/imgmend" frobnicate img.qcow2 > unk.out 2> unk.err || rc=$?
assert_eq 1 "$rc" "exit status of an unknown command"
grep -qF "imgmend: error: unknown command 'frobnicate'" unk.err || fail "unknown command message: $(cat unk.err)"
[ ! -s unk.out ] || fail "an unknown command printed on stdout: $(cat unk.out)"
pass
rc=0
"$BIN/imgmend" > none.out 2> none.err || rc=$?
assert_eq 1 "$rc" "exit status of imgmend without a command"
grep -q "Usage: imgmend COMMAND" none.out none.err || fail "imgmend without a command prints no usage"
pass

# Bad options and bad values: non-zero, and the message names the tool
# (also when run through the front).
bad_option() { # TOOL ARGS...
    local t=$1 rc=0
    shift
    "$BIN/$t" "$@" > bad.out 2> bad.err || rc=$?
    [ $rc -ne 0 ] || fail "$t $* succeeded"
    grep -q "^$t: " bad.err || fail "$t $*: message does not name $t: $(cat bad.err)"
    pass
}
for t in imgmend-check imgmend-repair imgmend-rebase imgmend-map imgmend-batch; do
    bad_option "$t" --no-such-option img.qcow2
    bad_option "$t" --output=bogus img.qcow2
    bad_option "$t"
    c=${t#imgmend-}
    same_as_tool "$c" --no-such-option img.qcow2
    [ "$RC" -ne 0 ] || fail "imgmend $c --no-such-option succeeded"
    grep -q "^$t: " front.err || fail "imgmend $c --no-such-option: message does not name $t: $(cat front.err)"
    pass
done
bad_option imgmend-check -f vmdk img.qcow2
bad_option imgmend-map --start-offset=xyz img.qcow2
bad_option imgmend-map -f vmdk img.qcow2
bad_option imgmend-repair img.qcow2
bad_option imgmend-repair -r everything img.qcow2
bad_option imgmend-rebase img.qcow2
bad_option imgmend-batch --jobs=many .
bad_option imgmend-map --progress=xyz img.qcow2

# Options that contradict each other are refused, one line on stderr, the
# usage exit status (1), nothing on stdout.
conflict() { # TEXT TOOL ARGS...
    local text=$1 tool=$2
    shift 2
    expect_fail "$text" "$BIN/$tool" "$@"
    assert_eq 1 "$(grep -c . fail.err)" "lines on stderr of $tool $*"
    [ ! -s fail.out ] || fail "$tool $* printed on stdout: $(head -3 fail.out)"
    rc=0; "$BIN/$tool" "$@" > /dev/null 2>&1 || rc=$?
    assert_eq 1 "$rc" "exit status of $tool $*"
}
conflict "--totals cannot be used with --output=svg" imgmend-map --totals --output=svg img.qcow2
conflict "--totals cannot be used with --output=joint" imgmend-map --output=joint --totals img.qcow2
finish
