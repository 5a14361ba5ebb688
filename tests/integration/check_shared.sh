#!/bin/bash
# Clusters used twice: two and three L2 entries on one data cluster, and a
# data entry pointing at the L1 table, the refcount table, its own L2 table,
# the refcount block and the header (behaviour doc 6.10).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
H=$(cluster_of "$(poke base.qcow2 get host 0)")

# Guest 64k (L2 index 1) and then guest 128k (L2 index 2) share guest 0's cluster.
cp base.qcow2 two.qcow2
poke two.qcow2 l2 0x10000 "$(poke two.qcow2 get l2 0)"
compare_full two.qcow2
expect_kinds two.qcow2 refcount-too-low
expect_count two.qcow2 refcount-too-low 1
expect_located two.qcow2 refcount-too-low cluster="$H" refcount=1 references=2
# The finding must name the entry we damaged (guest 64k, L2 index 1), not
# only the cluster's first user.
expect_located two.qcow2 refcount-too-low cluster="$H" l1-index=0 l2-index=1 guest-offset=0x10000
cp two.qcow2 three.qcow2
poke three.qcow2 l2 0x20000 "$(poke three.qcow2 get l2 0)"
compare_full three.qcow2
expect_count three.qcow2 refcount-too-low 1
expect_located three.qcow2 refcount-too-low cluster="$H" refcount=1 references=3

# The entry for guest 64k (COPIED set) pointing at metadata.
for what in l1 reftable l2 refblock; do
    case $what in
    l1) M=$(poke base.qcow2 get header l1_table_offset) ;;
    reftable) M=$(poke base.qcow2 get header refcount_table_offset) ;;
    l2) M=$(poke base.qcow2 get l2-table-offset 0) ;;
    refblock) M=$(poke base.qcow2 get refblock 0) ;;
    esac
    img=to-$what.qcow2
    cp base.qcow2 "$img"
    poke "$img" l2 0x10000 "$(printf 0x%x $((M | (1 << 63))))"
    compare_full "$img"
    expect_located "$img" refcount-too-low cluster=$((M / 65536)) host-offset="$M" refcount=1 references=2
    # Metadata cannot be guest data: the finding must name the data entry
    # (guest 64k, L2 index 1) as the intruder.
    expect_located "$img" refcount-too-low cluster=$((M / 65536)) l1-index=0 l2-index=1 guest-offset=0x10000
    if [ $what = refblock ]; then
        expect_located "$img" refblock-refcount cluster=$((M / 65536)) host-offset="$M"
    fi
done

# ... and at the header: offset 0 means unallocated, so this is clean.
cp base.qcow2 to-header.qcow2
poke to-header.qcow2 l2 0x10000 0x8000000000000000
compare_full to-header.qcow2
expect_kinds to-header.qcow2
finish
