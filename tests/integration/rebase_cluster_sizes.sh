#!/bin/bash
# Layers with different cluster sizes: the comparison follows the
# overlay's (sub)clusters whatever the backing files use.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

# layers OLD_CLUSTER NEW_CLUSTER: old.qcow2 and new.qcow2 (4M) with those
# cluster sizes; they differ at 4k granularity in places.
layers() {
    rm -f old.qcow2 new.qcow2
    qemu-img create -q -f qcow2 -o cluster_size="$1" old.qcow2 4M
    qemu-io -c 'write -P 1 0 2M' -c 'write -P 3 3M 4k' old.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -o cluster_size="$2" new.qcow2 4M
    qemu-io -c 'write -P 1 0 2M' -c 'write -P 7 4k 4k' -c 'write -P 7 1M 512' -c 'write -P 7 2M 8k' new.qcow2 >/dev/null
}

# scenario OLD NEW OVERLAY_OPTIONS: an overlay over old.qcow2 rebased onto
# new.qcow2 by both tools.
scenario() {
    local name="ov-$1-$2-${3//[=,]/-}.qcow2"
    layers "$1" "$2"
    qemu-img create -q -f qcow2 -o "$3" -b old.qcow2 -F qcow2 "$name" 4M
    qemu-io -c 'write -P 2 512k 4k' "$name" >/dev/null
    guest_raw "$name" before.raw
    rebase_vs_qemu "$name" -b new.qcow2 -F qcow2
    expect_guest before.raw "$name"
    compare_map "$name"
    # Nothing local where old and new agree (1M+64k..2M), unless a
    # subcluster of the overlay spans a difference there.
    if [ "$(subcluster_size "$name")" -le 65536 ]; then
        expect_not_local "$name" $(((1 << 20) + (64 << 10))) $(((1 << 20) - (64 << 10)))
    fi
}

scenario 64k 64k cluster_size=4k
scenario 4k 64k cluster_size=64k
scenario 2M 512 cluster_size=64k
scenario 512 2M cluster_size=2M
scenario 64k 4k cluster_size=512
scenario 4k 2M cluster_size=32k,extended_l2=on
scenario 2M 64k cluster_size=2M,extended_l2=on
# 2M clusters with extended L2 (64k subclusters): only the differing ones
# are local: data at 0 (4k), 512k (the overlay's), 1M (1M), 3M (old data
# over new zeros), and a zero subcluster at 2M (new data over old zeros).
assert_eq '4 1' "$(local_counts ov-2M-64k-cluster_size-2M-extended_l2-on.qcow2)" "local subclusters of the 2M extended-L2 overlay"
finish
