#!/bin/bash
# Wrong refcount on a refcount block, the header, the L1 table and the
# refcount table: too high and zero (behaviour doc 6.4).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

mkbase base.qcow2
B=$(cluster_of "$(poke base.qcow2 get refblock 0)")
L1=$(cluster_of "$(poke base.qcow2 get header l1_table_offset)")
RT=$(cluster_of "$(poke base.qcow2 get header refcount_table_offset)")

for what in refblock header l1 reftable; do
    case $what in
    refblock) C=$B owner="refcount block 0" ;;
    header) C=0 owner="image header" ;;
    l1) C=$L1 owner="L1 table (active)" ;;
    reftable) C=$RT owner="refcount table" ;;
    esac
    for rc in 0 2 3; do
        img=$what-$rc.qcow2
        cp base.qcow2 "$img"
        poke "$img" refcount "$C" "$rc"
        compare_full "$img"
        if [ "$rc" = 0 ]; then
            expect_kinds "$img" refcount-too-low
            expect_located "$img" refcount-too-low cluster="$C" host-offset=$((C * 65536)) refcount=0 \
                references=1 owner="$owner" repair=all
        else
            expect_kinds "$img" refcount-too-high
            expect_located "$img" refcount-too-high cluster="$C" host-offset=$((C * 65536)) refcount="$rc" \
                references=1 owner="$owner" repair=leaks
        fi
    done
done
finish
