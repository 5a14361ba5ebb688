#!/bin/bash
# Header bits qemu-img check stays silent about: the corrupt bit, the dirty
# bit with and without lazy refcounts, unknown autoclear and compatible
# bits (behaviour doc 6.13). We warn (severity "warning") without changing
# the counts or the exit code.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
mkbase lazy.qcow2 -o lazy_refcounts=on

# $1 image, $2 warning kind, $3 expected exit code: same as qemu, plus the warning.
warned() {
    compare_full "$1"
    assert_eq "$3" "$ORC" "exit code with the $2 warning"
    expect_warning "$1" "$2"
}

cp base.qcow2 corrupt.qcow2
poke corrupt.qcow2 header incompatible_features --or 2
warned corrupt.qcow2 corrupt-bit 0
expect_kinds corrupt.qcow2 corrupt-bit
cp corrupt.qcow2 corrupt-leak.qcow2
poke corrupt-leak.qcow2 l2 0x100000 0
warned corrupt-leak.qcow2 corrupt-bit 3
cp corrupt.qcow2 corrupt-zero.qcow2
poke corrupt-zero.qcow2 refcount 5 0
warned corrupt-zero.qcow2 corrupt-bit 2

cp base.qcow2 dirty.qcow2
poke dirty.qcow2 header incompatible_features --or 1
warned dirty.qcow2 dirty-bit 0
expect_kinds dirty.qcow2 dirty-bit
cp dirty.qcow2 dirty-leak.qcow2
poke dirty-leak.qcow2 l2 0x100000 0
warned dirty-leak.qcow2 dirty-bit 3
expect_located dirty-leak.qcow2 refcount-too-high cluster=6 references=0

cp lazy.qcow2 lazy-dirty.qcow2
poke lazy-dirty.qcow2 header incompatible_features --or 1
warned lazy-dirty.qcow2 dirty-bit 0
cp lazy-dirty.qcow2 lazy-dirty-leak.qcow2
poke lazy-dirty-leak.qcow2 l2 0x100000 0
warned lazy-dirty-leak.qcow2 dirty-bit 3
expect_kinds lazy-dirty-leak.qcow2 dirty-bit refcount-too-high
# lazy_refcounts without the dirty bit: nothing to say.
compare_full lazy.qcow2
expect_kinds lazy.qcow2

cp base.qcow2 autoclear.qcow2
poke autoclear.qcow2 header autoclear_features --or 0x4
warned autoclear.qcow2 unknown-autoclear-bits 0
expect_kinds autoclear.qcow2 unknown-autoclear-bits
cp autoclear.qcow2 autoclear-leak.qcow2
poke autoclear-leak.qcow2 l2 0x100000 0
warned autoclear-leak.qcow2 unknown-autoclear-bits 3

# An unknown compatible bit: clean, no warning needed.
cp base.qcow2 compat.qcow2
poke compat.qcow2 header compatible_features --or 0x2
compare_full compat.qcow2
assert_eq 0 "$ORC" "exit code with an unknown compatible bit"

# All the warnings at once, and the human output says "Warning".
cp base.qcow2 all.qcow2
poke all.qcow2 header incompatible_features --or 3
poke all.qcow2 header autoclear_features --or 0x4
warned all.qcow2 dirty-bit 0
expect_kinds all.qcow2 dirty-bit corrupt-bit unknown-autoclear-bits
compare_human_check all.qcow2
"$CHECK" all.qcow2 2> all.err >/dev/null
assert_eq 3 "$(grep -c '^Warning: ' all.err)" "warning lines on stderr"
finish
