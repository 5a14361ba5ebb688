#!/bin/bash
# -c: clusters the rebase copies whole are written compressed (zlib or
# zstd, as the overlay's header says); incompressible ones and subclusters
# of partly allocated clusters are written plain. The guest view never
# changes and refcounts of shared packed clusters stay exact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

# compressed_starts IMAGE: guest offsets of IMAGE's own compressed extents,
# per imgmend-map (qemu-img map does not say).
compressed_starts() {
    "$MAP" --output=json "$1" | jq -r -s 'add | map(select(.depth == 0 and .compressed))[] | "\(.start)+\(.length)"' |
        paste -sd' '
}

qemu-img create -q -f qcow2 old.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 3 2M 256k' old.qcow2 >/dev/null
head -c $((128 << 10)) /dev/urandom > noise.bin
qemu-io -c "write -s noise.bin 3M 128k" old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 512k' new.qcow2 >/dev/null

for ctype in zlib zstd; do
    ov=ov-$ctype.qcow2
    qemu-img create -q -f qcow2 -o compression_type=$ctype -b old.qcow2 -F qcow2 "$ov" 4M
    qemu-io -c 'write -P 2 64k 64k' "$ov" >/dev/null
    guest_raw "$ov" before.raw
    rebase -c -b new.qcow2 -F qcow2 "$ov"
    expect_backing "$ov" new.qcow2 qcow2
    expect_guest before.raw "$ov"
    expect_clean "$ov"
    compare_map "$ov"
    # 512k..1M and 2M..2M+256k: 12 compressible clusters; 3M..3M+128k
    # (random) plain data.
    assert_eq 12 "$(check_field "$ov" compressed-clusters)" "compressed clusters per qemu-img check ($ctype)"
    # (Compressed clusters have no offset in a map, so neighbours merge.)
    assert_eq "524288+524288 2097152+262144" "$(compressed_starts "$ov")" "compressed extents per imgmend-map ($ctype)"
    assert_eq 2 "$(qemu-img map -U --output=json "$ov" | jq -s \
        'add | map(select(.depth == 0 and .data and .start >= 3145728 and .start < 3276800)) | map(.length) | add / 65536')" \
        "incompressible clusters copied plain ($ctype)"
    assert_eq "$ctype" "$(info_field "$ov" '.["format-specific"].data["compression-type"]')" "compression type ($ctype)"
    qemu-img check -U "$ov" | grep -Eq '[1-9][0-9.]*% compressed clusters' || fail "qemu-img check shows no compressed clusters ($ctype)"
    pass
    # The packed streams share clusters: the file is much smaller than
    # 12 plain clusters would make it.
    [ "$(stat -c %s "$ov")" -lt $(( (5 + 1 + 2 + 12) * 65536 )) ] || fail "compressed streams not packed ($ctype)"
    pass
done

# Extended L2: a cluster the overlay partly holds gets plain subclusters;
# free clusters are still compressed whole.
qemu-img create -q -f qcow2 -o extended_l2=on -b old.qcow2 -F qcow2 ext.qcow2 4M
qemu-io -c 'write -P 2 512k 2k' ext.qcow2 >/dev/null
guest_raw ext.qcow2 before-ext.raw
rebase -c -b new.qcow2 -F qcow2 ext.qcow2
expect_guest before-ext.raw ext.qcow2
expect_clean ext.qcow2
assert_eq 11 "$(check_field ext.qcow2 compressed-clusters)" "compressed clusters with extended L2"
assert_eq "" "$(compressed_starts ext.qcow2 | tr ' ' '\n' | grep "^524288+" || true)" "the partly held cluster is not compressed"

# Flatten with -c compresses everything copied.
qemu-img create -q -f qcow2 -b old.qcow2 -F qcow2 flat.qcow2 4M
guest_raw flat.qcow2 before-flat.raw
rebase -c -b "" flat.qcow2
expect_guest before-flat.raw flat.qcow2
expect_clean flat.qcow2
assert_eq $((16 + 4)) "$(check_field flat.qcow2 compressed-clusters)" "compressed clusters after flattening with -c"
finish
