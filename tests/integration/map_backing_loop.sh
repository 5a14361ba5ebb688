#!/bin/bash
# Backing loops crafted with `qemu-img rebase -u`: an image that is its own
# backing file, a cycle of two and a cycle of three entered from outside.
# We must fail quickly with a message. (qemu-img itself recurses until it
# runs out of memory, so it is not run on these.)
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 self.qcow2 1M
qemu-img rebase -u -b self.qcow2 -F qcow2 self.qcow2
expect_fail loop "$MAP" self.qcow2
grep -qF self.qcow2 fail.err || fail "error does not name self.qcow2: $(cat fail.err)"
pass
expect_fail loop "$MAP" --output=json self.qcow2

qemu-img create -q -f qcow2 a.qcow2 1M
qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2
qemu-img rebase -u -b b.qcow2 -F qcow2 a.qcow2
expect_fail loop "$MAP" a.qcow2
expect_fail loop "$MAP" --output=json b.qcow2
expect_fail loop "$MAP" -U b.qcow2

# x -> y -> z -> x, reached from an outer overlay; y names z as ../loop/z.
mkdir loop
qemu-img create -q -f qcow2 loop/x.qcow2 1M
qemu-img create -q -f qcow2 -b x.qcow2 -F qcow2 loop/z.qcow2
qemu-img create -q -f qcow2 -b ../loop/z.qcow2 -F qcow2 loop/y.qcow2
qemu-img rebase -u -b y.qcow2 -F qcow2 loop/x.qcow2
qemu-img create -q -f qcow2 -u -b loop/x.qcow2 -F qcow2 outer.qcow2 1M
expect_fail loop "$MAP" outer.qcow2
expect_fail loop "$MAP" --output=json --start-offset=4k --max-length=4k outer.qcow2

# The same chain with the loop broken maps normally.
qemu-img rebase -u -b '' loop/x.qcow2
compare_all outer.qcow2
finish
