#!/bin/bash
# Repairing refcounts that are too low (behaviour doc 6.2-6.4, 6.11, 6.12,
# 6.13 lazy crash, 6.17): refcount 0 on a data cluster, an L2 table, the
# refcount block, the header, the L1 table, the refcount table (a rebuild);
# refcount 1 with two references (after a snapshot: raised in place); the
# same on compressed and extended-L2 images and in every refcount width.
# -r all ends clean with the twin's guest data, as qemu-img's does; -r leaks
# leaves the image untouched (qemu-img: "need to rebuild", exit 1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
L2=$(cluster_of "$(poke base.qcow2 get l2-table-offset 0)")
B=$(cluster_of "$(poke base.qcow2 get refblock 0)")
L1=$(cluster_of "$(poke base.qcow2 get header l1_table_offset)")
RT=$(cluster_of "$(poke base.qcow2 get header refcount_table_offset)")
D=$(cluster_of "$(poke base.qcow2 get host 0)")

# Refcount 0: a rebuild with -r all; -r leaks changes nothing.
for c in "$D" "$L2" "$B" 0 "$L1" "$RT"; do
    cp base.qcow2 zero$c.qcow2
    poke zero$c.qcow2 refcount "$c" 0
    repair_leaves zero$c leaks zero$c.qcow2
    assert_eq 1 "$QRC" "qemu-img -r leaks on refcount 0 (need to rebuild)"
    repair_fixes zero$c all zero$c.qcow2 base.qcow2
    assert_eq true "$(jq -r '.["rebuilt-refcounts"]' ours-repair.json)" "refcount 0 on cluster $c: rebuilt"
done

# Refcount 1 with two references (the snapshot shares the data cluster and
# the L2 table): -r all raises it in place; -r leaks leaves it, as qemu-img.
cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2
for c in "$D" "$L2"; do
    cp snap.qcow2 shared$c.qcow2
    poke shared$c.qcow2 refcount "$c" 1
    repair_leaves shared$c leaks shared$c.qcow2
    repair_fixes shared$c all shared$c.qcow2 snap.qcow2
    assert_eq false "$(jq -r '.["rebuilt-refcounts"]' ours-repair.json)" "refcount 1 of 2 on cluster $c: raised in place"
    assert_eq 2 "$(refcount shared$c.ours.qcow2 "$c")" "refcount of cluster $c after -r all"
    # the snapshot is still whole
    qemu-img convert -O raw -l s1 shared$c.ours.qcow2 s1.raw
    qemu-img convert -O raw base.qcow2 base.raw
    cmp s1.raw base.raw >&2 || fail "snapshot s1 after -r all on shared$c"
    pass
done

# Compressed: two streams in one host cluster (refcount 2).
qemu-img create -q -f qcow2 comp.qcow2 4M
qemu-io -c 'write -c -P 0x33 0 64k' -c 'write -c -P 0x44 64k 64k' -c 'write -P 0x55 1M 64k' comp.qcow2 >/dev/null
C=$(cluster_of "$(poke comp.qcow2 get host 0)")
cp comp.qcow2 comp1.qcow2
poke comp1.qcow2 refcount "$C" 1
repair_fixes comp1 all comp1.qcow2 comp.qcow2
cp comp.qcow2 comp0.qcow2
poke comp0.qcow2 refcount "$C" 0
repair_leaves comp0 leaks comp0.qcow2
repair_fixes comp0 all comp0.qcow2 comp.qcow2

# Extended L2: a data cluster with refcount 0.
qemu-img create -q -f qcow2 -o extended_l2=on ext.qcow2 4M
qemu-io -c 'write -P 0x11 0 4k' -c 'write -P 0x22 1M 64k' -c 'write -z 2M 64k' ext.qcow2 >/dev/null
cp ext.qcow2 ext0.qcow2
poke ext0.qcow2 refcount "$(cluster_of "$(poke ext.qcow2 get host 0x100000)")" 0
repair_leaves ext0 leaks ext0.qcow2
repair_fixes ext0 all ext0.qcow2 ext.qcow2

# A real crash with lazy refcounts: the data clusters' refcounts were never
# written and the dirty bit is set. -r all rebuilds and clears the bit.
qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 4M
sh -c "qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' -c abort lazy.qcow2" >/dev/null 2>&1 || true
assert_eq 1 "$(( $(poke lazy.qcow2 get header incompatible_features) & 1 ))" "dirty bit after the crash"
repair_fixes lazy all lazy.qcow2 base.qcow2
soft_eq 0 "$(( $(poke lazy.ours.qcow2 get header incompatible_features) & 1 ))" "dirty bit after -r all"

# Every refcount width: a data cluster with refcount 0.
for bits in 1 2 4 8 32 64; do
    mkbase w$bits.qcow2 -o refcount_bits=$bits
    cp w$bits.qcow2 w$bits-0.qcow2
    poke w$bits-0.qcow2 refcount "$D" 0
    repair_fixes w$bits-0 all w$bits-0.qcow2 w$bits.qcow2
done

# 512-byte clusters: a data cluster and an L2 table with refcount 0.
qemu-img create -q -f qcow2 -o cluster_size=512 small.qcow2 1M
qemu-io -c 'write -P 1 0 4k' -c 'write -P 2 512k 1k' small.qcow2 >/dev/null
for c in "$(( $(poke small.qcow2 get host 0x80000) / 512 ))" "$(( $(poke small.qcow2 get l2-table-offset 0) / 512 ))"; do
    cp small.qcow2 small$c.qcow2
    poke small$c.qcow2 refcount "$c" 0
    repair_fixes small$c all small$c.qcow2 small.qcow2
done
finish
