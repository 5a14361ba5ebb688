#!/bin/bash
# Compressed clusters, zlib and zstd, from `qemu-img convert -c` and from
# `qemu-io write -c`, at 512 B, 4k, 64k and 2M clusters and in a backing file.
# The human table refuses them ("File contains external, encrypted or
# compressed clusters.") after printing the extents before them; the exit
# status must match qemu-img's.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 src.qcow2 2M
qemu-io -c 'write -P 7 0 512k' -c 'write -P 0 512k 64k' -c 'write -P 8 1M 100k' src.qcow2 > /dev/null
for type in zlib zstd; do
    img=convert-$type.qcow2
    qemu-img convert -c -O qcow2 -o compression_type=$type src.qcow2 $img
    assert_eq "compression type: $type" "$(qemu-img info $img | grep -o 'compression type: .*')" "$img type"
    compare_all $img
    compare_human_rc $img
    [ "$(our_compressed_extents $img)" -ge 1 ] || fail "no compressed extent in $img"
    pass
done

for cs in 512 4k 64k 2M; do
    img=write-$cs.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=$cs,compression_type=zstd $img 4M
    qemu-io -c "write -c -P 1 0 $cs" -c "write -c -P 2 2M $cs" -c 'write -P 3 3M 4k' $img > /dev/null
    compare_all $img
    compare_human_rc $img
done

# Plain data first: both print those rows, then fail on the compressed one.
qemu-img create -q -f qcow2 mixed.qcow2 1M
qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 128k 64k' -c 'write -c -P 3 256k 64k' \
    -c 'write -c -P 0 384k 64k' -c 'write -P 4 512k 64k' mixed.qcow2 > /dev/null
compare_all mixed.qcow2
compare_human_rc mixed.qcow2
assert_eq 2 "$(our_compressed_extents mixed.qcow2)" "compressed extents of mixed.qcow2"
assert_eq 0 "$(our_compressed_extents mixed.qcow2 --start-offset=448k)" "compressed extents past 448k"
compare_human_rc mixed.qcow2 --start-offset=320k --max-length=64k
compare_human_rc mixed.qcow2 --start-offset=448k
compare_human_rc mixed.qcow2 --max-length=256k
compare_human_rc mixed.qcow2 --start-offset=300k --max-length=4k
compare_map mixed.qcow2 --start-offset=300k --max-length=100k

# Compressed clusters in the backing file: hidden where the overlay wrote.
qemu-img create -q -f qcow2 -b mixed.qcow2 -F qcow2 ov.qcow2
qemu-io -c 'write -P 9 256k 64k' ov.qcow2 > /dev/null
compare_all ov.qcow2
compare_human_rc ov.qcow2
qemu-io -c 'write -P 9 384k 64k' ov.qcow2 > /dev/null
compare_all ov.qcow2
compare_human_rc ov.qcow2
finish
