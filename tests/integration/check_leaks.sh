#!/bin/bash
# Leaked clusters: an L2 entry cleared (the data cluster stays allocated) and
# an extra cluster appended with refcount 1 (docs/qemu-check-behaviour.md 6.1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
compare_full base.qcow2
expect_kinds base.qcow2

# L2 entry for guest 1M cleared: its data cluster leaks.
cp base.qcow2 cleared.qcow2
H=$(cluster_of "$(poke cleared.qcow2 get host 0x100000)")
poke cleared.qcow2 l2 0x100000 0
compare_full cleared.qcow2
assert_eq 3 "$ORC" "exit code (leaks only)"
expect_kinds cleared.qcow2 refcount-too-high
expect_count cleared.qcow2 refcount-too-high 1
expect_located cleared.qcow2 refcount-too-high cluster="$H" host-offset=$((H * 65536)) \
    severity=leak refcount=1 references=0 repair=leaks

# An extra cluster appended with refcount 1.
cp base.qcow2 appended.qcow2
N=$(poke appended.qcow2 get clusters)
truncate -s +65536 appended.qcow2
poke appended.qcow2 refcount "$N" 1
compare_full appended.qcow2
assert_eq 3 "$ORC" "exit code (leaks only)"
assert_eq $(((N + 1) * 65536)) "$(our_field appended.qcow2 image-end-offset)" "image end offset with the appended leak"
expect_kinds appended.qcow2 refcount-too-high
expect_count appended.qcow2 refcount-too-high 1
expect_located appended.qcow2 refcount-too-high cluster="$N" host-offset=$((N * 65536)) \
    severity=leak refcount=1 references=0 repair=leaks

# Both at once, in a 512-byte-cluster image.
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 1M
qemu-io -c 'write -P 1 0 4k' -c 'write -P 2 512k 1k' small.qcow2 >/dev/null
H=$(( $(poke small.qcow2 get host 0x80200) / 512 ))
poke small.qcow2 l2 0x80200 0
N=$(poke small.qcow2 get clusters)
truncate -s +512 small.qcow2
poke small.qcow2 refcount "$N" 1
compare_full small.qcow2
expect_count small.qcow2 refcount-too-high 2
expect_located small.qcow2 refcount-too-high cluster="$H" host-offset=$((H * 512))
expect_located small.qcow2 refcount-too-high cluster="$N" host-offset=$((N * 512))
finish
