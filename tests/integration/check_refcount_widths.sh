#!/bin/bash
# Every refcount width (refcount_bits 1..64): clean, an appended leaked
# cluster, a data cluster at the width's maximum refcount; and the overflow
# of a 1-bit refcount (behaviour doc 6.17, 3.2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

for bits in 1 2 4 8 16 32 64; do
    mkbase w$bits.qcow2 -o refcount_bits=$bits
    compare_full w$bits.qcow2
    expect_kinds w$bits.qcow2

    cp w$bits.qcow2 leak$bits.qcow2
    N=$(poke leak$bits.qcow2 get clusters)
    truncate -s +65536 leak$bits.qcow2
    poke leak$bits.qcow2 refcount "$N" 1
    compare_full leak$bits.qcow2
    assert_eq 3 "$ORC" "exit code of a leak with refcount_bits=$bits"
    expect_kinds leak$bits.qcow2 refcount-too-high
    expect_located leak$bits.qcow2 refcount-too-high cluster="$N" refcount=1 references=0

    if [ $bits -gt 1 ]; then
        if [ $bits = 64 ]; then max=18446744073709551615; else max=$(( (1 << bits) - 1 )); fi
        cp w$bits.qcow2 max$bits.qcow2
        H=$(cluster_of "$(poke max$bits.qcow2 get host 0)")
        poke max$bits.qcow2 refcount "$H" "$max"
        compare_full max$bits.qcow2
        # (jq 1.6 reads numbers as doubles: compare 64-bit refcounts as text)
        expect_located max$bits.qcow2 refcount-too-high cluster="$H" references=1 guest-offset=0 \
            message="Leaked cluster $H refcount=$max reference=1"
        expect_located max$bits.qcow2 oflag-copied-l2 cluster="$H" l2-index=0
        assert_eq 2 "$(grep -c "\"refcount\": $max,\$" ours-check.json)" "exact refcount $max in the JSON"
    fi
done

# refcount_bits=1: a second reference to a cluster overflows.
cp w1.qcow2 overflow.qcow2
H=$(poke overflow.qcow2 get host 0)
poke overflow.qcow2 l2 0x10000 "$(poke overflow.qcow2 get l2 0)"
compare_full overflow.qcow2
expect_kinds overflow.qcow2 refcount-overflow
expect_located overflow.qcow2 refcount-overflow cluster=$((H / 65536)) host-offset="$H" severity=corruption
# the reference that overflows is the damaged entry for guest 64k
expect_located overflow.qcow2 refcount-overflow cluster=$((H / 65536)) l1-index=0 l2-index=1 guest-offset=0x10000
finish
