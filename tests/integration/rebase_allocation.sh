#!/bin/bash
# Allocation against qemu-img rebase on the same chains: scattered writes
# of odd sizes and offsets (512-byte granularity) in every layer, standard
# and extended L2, 4k/64k/256k clusters. imgmend never allocates more
# clusters, data subclusters or file bytes than qemu-img 7.2 does, and both
# keep the guest view.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

# scatter IMAGE SEED COUNT PATTERN: COUNT writes of 512..40k bytes at
# 512-aligned pseudo-random offsets (bash's RANDOM, seeded) of an 8M image,
# a fifth of them zero writes.
scatter() {
    local i length offset
    RANDOM=$2
    for ((i = 0; i < $3; i++)); do
        length=$(((RANDOM % 80 + 1) * 512))
        offset=$(((RANDOM * 32768 + RANDOM) % (((8 << 20) - length) / 512) * 512))
        if ((RANDOM % 5 == 0)); then
            echo "write -z $offset $length"
        else
            echo "write -P $4 $offset $length"
        fi
    done > cmds.txt
    qemu-io "$1" < cmds.txt > qemu-io.log 2>&1 || { cat qemu-io.log >&2; fail "qemu-io on $1"; }
}

for opts in cluster_size=64k cluster_size=4k cluster_size=64k,extended_l2=on cluster_size=256k,extended_l2=on; do
    tag=${opts//[=,]/-}
    rm -f old.qcow2 new.qcow2 mid.qcow2
    qemu-img create -q -f qcow2 -o "$opts" old.qcow2 8M
    scatter old.qcow2 1 80 1
    cp old.qcow2 new.qcow2
    scatter new.qcow2 2 30 7        # new shares most of old's data
    qemu-img create -q -f qcow2 -o "$opts" -b old.qcow2 -F qcow2 mid.qcow2 8M
    scatter mid.qcow2 3 30 4
    qemu-img create -q -f qcow2 -o "$opts" -b mid.qcow2 -F qcow2 "ov-$tag.qcow2" 8M
    scatter "ov-$tag.qcow2" 4 30 2
    cp "ov-$tag.qcow2" "in-$tag.qcow2"
    cp "ov-$tag.qcow2" "flat-$tag.qcow2"
    rebase_vs_qemu "ov-$tag.qcow2" -b new.qcow2 -F qcow2      # out of the chain
    rebase_vs_qemu "in-$tag.qcow2" -b old.qcow2 -F qcow2      # dropping mid
    rebase_vs_qemu "flat-$tag.qcow2" -b ""
done
finish
