#!/bin/bash
# Where a refcount rebuild puts the new refcount blocks and table:
#  * inside the file when there are free clusters (discarded in the middle
#    of the data): the file does not grow (qemu-img does the same);
#  * at the end when there are none: the file grows;
#  * 512-byte clusters with 64-bit refcounts (a table cluster covers 4096
#    clusters): a file just below such a boundary, where placing the new
#    blocks makes the table grow while it is being placed, and a table of
#    several clusters;
#  * on a block device that cannot grow (a loop device, when we may create
#    one): with free space inside the repair works; without, it fails
#    cleanly and the image is unchanged. (Without loop devices the same is
#    covered by tests/unit/test_repair_rebuild.cpp on a fixed-size
#    MemoryDevice.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

# rebuild_case NAME DAMAGED TWIN: our -r all rebuilds, ends clean with TWIN's
# guest data; sets SIZE0/SIZE1 (file size before/after) and RTC (the new
# refcount_table_clusters).
rebuild_case() {
    local name=$1 damaged=$2 twin=$3
    cp "$damaged" "$name.ours.qcow2"
    our_repair all "$name.ours.qcow2"
    expect_rrc 0 "$name -r all"
    assert_eq true "$(jq -r '.["rebuilt-refcounts"]' ours-repair.json)" "$name: rebuilt"
    expect_qemu_clean "$name.ours.qcow2" "$name -r all"
    expect_same_guest "$twin" "$name.ours.qcow2" "$name -r all"
    SIZE0=$(stat -c %s "$damaged")
    SIZE1=$(stat -c %s "$name.ours.qcow2")
    RTC=$(poke "$name.ours.qcow2" get header refcount_table_clusters)
}

# Free clusters inside the file: guest 256k..512k discarded.
qemu-img create -q -f qcow2 holes.qcow2 4M
qemu-io -c 'write -P 0x11 0 1M' -c 'discard 256k 256k' holes.qcow2 >/dev/null
HOLE=$(poke holes.qcow2 get host 0x40000)
assert_eq 0 "$HOLE" "guest 256k is discarded"
cp holes.qcow2 holes0.qcow2
poke holes0.qcow2 refcount "$(cluster_of "$(poke holes.qcow2 get host 0)")" 0
rebuild_case inside holes0.qcow2 holes.qcow2
assert_eq "$SIZE0" "$SIZE1" "file size after a rebuild with free clusters inside"
RTO=$(poke inside.ours.qcow2 get header refcount_table_offset)
[ "$RTO" -lt "$SIZE0" ] || fail "the new refcount table ($RTO) is not inside the file"
pass
cp holes0.qcow2 inside.qemu.qcow2
qemu_repair all inside.qemu.qcow2
expect_qemu_clean inside.qemu.qcow2 "free clusters inside (qemu-img)"

# No free cluster: the file grows by the new block and table.
mkbase base.qcow2
cp base.qcow2 full0.qcow2
poke full0.qcow2 refcount "$(cluster_of "$(poke base.qcow2 get host 0)")" 0
rebuild_case grow full0.qcow2 base.qcow2
[ "$SIZE1" -gt "$SIZE0" ] || fail "no free cluster, yet the file did not grow ($SIZE0 -> $SIZE1)"
pass
[ "$SIZE1" -le $((SIZE0 + 2 * 65536)) ] || fail "the file grew by more than a block and a table ($SIZE0 -> $SIZE1)"
pass

# 512-byte clusters, 64-bit refcounts: 64 entries per block and per table
# cluster, so one table cluster covers 4096 clusters (2 MiB). The data ends
# a little below 2 MiB: the ~65 new blocks appended cross the boundary, so
# the table needs a second cluster once placement has begun.
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 edge.qcow2 8M
qemu-io -t unsafe -c 'write -P 0x5a 0 1960k' edge.qcow2 >/dev/null
assert_eq 1 "$(poke edge.qcow2 get header refcount_table_clusters)" "qemu-img's table (one cluster)"
[ "$(stat -c %s edge.qcow2)" -lt 2097152 ] || fail "edge.qcow2 is not below 2 MiB"
pass
cp edge.qcow2 edge0.qcow2
poke edge0.qcow2 refcount "$(( $(poke edge.qcow2 get host 0x1000) / 512 ))" 0
rebuild_case edge edge0.qcow2 edge.qcow2
assert_eq 2 "$RTC" "refcount_table_clusters after the rebuild across the boundary"
[ "$SIZE1" -gt 2097152 ] || fail "the rebuilt image does not cross 2 MiB ($SIZE1)"
pass

# A table of several clusters (over 4 MiB of data: 3 table clusters).
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 big.qcow2 8M
qemu-io -t unsafe -c 'write -P 0x6b 0 4200k' big.qcow2 >/dev/null
cp big.qcow2 big0.qcow2
poke big0.qcow2 reftable 0 0
rebuild_case big big0.qcow2 big.qcow2
[ "$RTC" -ge 3 ] || fail "the rebuilt table has $RTC clusters, expected 3 or more"
pass

# The same, 16-bit refcounts, data with holes: the rebuild fills them.
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 4M
qemu-io -t unsafe -c 'write -P 0x21 0 2M' -c 'discard 64k 64k' small.qcow2 >/dev/null
cp small.qcow2 small0.qcow2
poke small0.qcow2 refcount "$(( $(poke small.qcow2 get host 0x100000) / 512 ))" 0
rebuild_case small small0.qcow2 small.qcow2
assert_eq "$SIZE0" "$SIZE1" "512-byte clusters with holes: file size after the rebuild"

# A block device that cannot grow.
if LOOP=$(losetup -f --show full0.qcow2 2>/dev/null); then
    at_exit "losetup -d $LOOP 2>/dev/null"
    # No free cluster inside: fails cleanly, nothing written.
    cp full0.qcow2 full0-orig.qcow2
    our_repair all "$LOOP"
    expect_rrc 1 "-r all on a full loop device"
    grep -q 'nothing was changed' ours-repair.err || fail "no 'nothing was changed' in: $(cat ours-repair.err)"
    pass
    grep -q 'cannot grow' ours-repair.err || fail "the error does not say the device cannot grow: $(cat ours-repair.err)"
    pass
    losetup -d "$LOOP"
    expect_unchanged full0-orig.qcow2 full0.qcow2 "-r all on a full loop device"
    # With free clusters inside: repaired in place.
    cp holes0.qcow2 onloop.qcow2
    LOOP=$(losetup -f --show onloop.qcow2)
    at_exit "losetup -d $LOOP 2>/dev/null"
    our_repair all "$LOOP"
    expect_rrc 0 "-r all on a loop device with free clusters inside"
    losetup -d "$LOOP"
    expect_qemu_clean onloop.qcow2 "-r all on a loop device with free clusters inside"
    expect_same_guest holes.qcow2 onloop.qcow2 "-r all on a loop device with free clusters inside"
else
    echo "note: cannot create a loop device here; the fixed-size device is covered by the unit tests" >&2
fi
finish
