#!/bin/bash
# Crash safety of repairs. For a leak, refcounts too low (raised in place,
# rebuilt, also on a compressed cluster), damaged refcount table entries
# (rebuilt), OFLAG_COPIED fixes, a header bit update, an L2 entry fix
# followed by a rebuild, a rebuild into free space inside the file, and a
# 512-byte-cluster rebuild with many refcount blocks: a crash after each
# write N (0 .. all) leaves an image that qemu-img and imgmend-map open,
# that has no corruption the damaged image did not have (leaks are
# acceptable), and whose guest data is the undamaged twin's; both with
# every write done so far and with only what was flushed (see
# expect_crash_safe in lib_repair.sh and tests/tools/crash_repair.cpp).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
D=$(cluster_of "$(poke base.qcow2 get host 0)")

# Leaks: an appended cluster with refcount 1; a data cluster with refcount 2.
cp base.qcow2 appended.qcow2
N=$(poke appended.qcow2 get clusters)
truncate -s +65536 appended.qcow2
poke appended.qcow2 refcount "$N" 1
expect_crash_safe leaks appended.qcow2 base.qcow2
expect_crash_safe all appended.qcow2 base.qcow2
cp base.qcow2 high.qcow2
poke high.qcow2 refcount "$D" 2
expect_crash_safe leaks high.qcow2 base.qcow2

# Refcount too low: raised in place (snapshot, 1 of 2), rebuilt (0).
cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
cp snap.qcow2 shared.qcow2
poke shared.qcow2 refcount "$D" 1
expect_crash_safe all shared.qcow2 snap.qcow2
cp base.qcow2 zero.qcow2
poke zero.qcow2 refcount "$D" 0
expect_crash_safe all zero.qcow2 base.qcow2

# Refcount table entry 0 damaged: zero, reserved bit, unaligned (rebuilds).
for damage in 0 "--or 1" "--or 0x200"; do
    cp base.qcow2 rt.qcow2
    poke rt.qcow2 reftable 0 $damage
    expect_crash_safe all rt.qcow2 base.qcow2
done

# A compressed cluster holding two streams with refcount 0 (a rebuild).
qemu-img create -q -f qcow2 comp.qcow2 4M
qemu-io -c 'write -c -P 0x33 0 64k' -c 'write -c -P 0x44 64k 64k' -c 'write -P 0x55 1M 64k' comp.qcow2 >/dev/null
cp comp.qcow2 comp0.qcow2
poke comp0.qcow2 refcount "$(cluster_of "$(poke comp.qcow2 get host 0)")" 0
expect_crash_safe all comp0.qcow2 comp.qcow2

# OFLAG_COPIED missing in the L1 and in an L2 entry.
cp base.qcow2 l1copied.qcow2
poke l1copied.qcow2 l1 0 --and-not 0x8000000000000000
expect_crash_safe leaks l1copied.qcow2 base.qcow2
cp base.qcow2 l2copied.qcow2
poke l2copied.qcow2 l2 0x100000 --and-not 0x8000000000000000
expect_crash_safe all l2copied.qcow2 base.qcow2

# The dirty bit with a leak: the header bit goes last.
cp high.qcow2 dirty.qcow2
poke dirty.qcow2 header incompatible_features --or 1
expect_crash_safe all dirty.qcow2 base.qcow2

# An unaligned preallocated zero entry at the end of the file: an L2 fix,
# then a rebuild.
cp base.qcow2 prealloc.qcow2
poke prealloc.qcow2 l2 0x110000 --or 0x201
qemu-img convert -O qcow2 base.qcow2 zeroG.qcow2
qemu-io -c 'write -z 0x110000 64k' zeroG.qcow2 >/dev/null
expect_crash_safe all prealloc.qcow2 zeroG.qcow2

# A rebuild into free clusters inside the file (guest 256k..512k discarded
# in the middle of the data).
qemu-img create -q -f qcow2 holes.qcow2 4M
qemu-io -c 'write -P 0x11 0 1M' -c 'discard 256k 256k' holes.qcow2 >/dev/null
cp holes.qcow2 holes0.qcow2
poke holes0.qcow2 refcount "$(cluster_of "$(poke holes.qcow2 get host 0)")" 0
expect_crash_safe all holes0.qcow2 holes.qcow2

# 512-byte clusters: enough data for many refcount blocks (256 clusters
# each), a data cluster with refcount 0: a rebuild of many writes.
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 4M
qemu-io -t unsafe -c 'write -P 0x21 0 768k' -c 'write -P 0x43 3M 64k' small.qcow2 >/dev/null
cp small.qcow2 small0.qcow2
poke small0.qcow2 refcount "$(( $(poke small.qcow2 get host 0x300000) / 512 ))" 0
expect_crash_safe all small0.qcow2 small.qcow2
# (New blocks, the table, the header; the freed old blocks are runs too
# small to punch out of the file.)
[ "$CRASH_WRITES" -ge 8 ] || fail "the 512-byte-cluster rebuild does only $CRASH_WRITES writes"
pass
finish
