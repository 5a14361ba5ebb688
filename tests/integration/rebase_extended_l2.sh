#!/bin/bash
# An extended-L2 overlay (64k clusters, 2k subclusters): the rebase writes
# whole subclusters only, so just the ones that differ become local; a
# cluster the overlay already holds gets them in its own host cluster.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 4M
qemu-io -c 'write -P 1 0 2M' old.qcow2 >/dev/null
# new differs from old at 8k+2k, 64k+4k+2k, 1M+4k; adds data at 3M+4k over
# old zeros.
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 2M' -c 'write -P 9 8k 2k' -c 'write -P 9 68k 2k' \
    -c 'write -P 9 1M 4k' -c 'write -P 9 3M 4k' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o extended_l2=on -b old.qcow2 -F qcow2 ov.qcow2 4M
qemu-io -c 'write -P 2 64k 2k' -c 'write -z 130k 2k' ov.qcow2 >/dev/null
guest_raw ov.qcow2 before.raw
host64=$(qemu-img map -U --output=json ov.qcow2 | jq -s 'add | map(select(.start == 65536))[0].offset')

rebase_vs_qemu ov.qcow2 -b new.qcow2 -F qcow2
expect_backing ov.qcow2 new.qcow2 qcow2
expect_guest before.raw ov.qcow2
compare_map ov.qcow2
assert_eq true "$(info_field ov.qcow2 '.["format-specific"].data["extended-l2"]')" "still extended L2"

# Exactly these ranges are local: the differing subclusters, the overlay's
# own data and zeros, and zero subclusters for new data over old zeros.
expected='8192+2048 data
65536+2048 data
69632+2048 data
133120+2048 zero
1048576+4096 data
3145728+4096 zero'
for tool in qemu ours; do
    if [ $tool = qemu ]; then qemu_map_json ov.qcow2 > layer.json; else our_map_json ov.qcow2 > layer.json; fi
    got=$(jq -r -s 'add | map(select(.depth == 0 and .present))[] | "\(.start)+\(.length) \(if .data then "data" else "zero" end)"' layer.json)
    assert_eq "$expected" "$got" "local subclusters per $tool map"
done
# 64k+4k went into the cluster the overlay already had at 64k.
assert_eq "$((host64 + 4096))" "$(qemu-img map -U --output=json ov.qcow2 | jq -s 'add | map(select(.start == 69632))[0].offset')" \
    "host offset of the subcluster written beside the overlay's own"
# Zero subclusters need no host cluster: 0, 64k and 1M only.
assert_eq 3 "$(check_field ov.qcow2 allocated-clusters)" "clusters allocated"

# In-chain and flatten keep the subcluster granularity.
qemu-img create -q -f qcow2 -o extended_l2=on -b old.qcow2 -F qcow2 mid.qcow2 4M
qemu-io -c 'write -P 4 16k 2k' -c 'write -P 4 2M 6k' mid.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o extended_l2=on -b mid.qcow2 -F qcow2 top.qcow2 4M
qemu-io -c 'write -P 5 0 2k' top.qcow2 >/dev/null
guest_raw top.qcow2 before-top.raw
cp top.qcow2 flat.qcow2
rebase_vs_qemu top.qcow2 -b old.qcow2 -F qcow2
expect_guest before-top.raw top.qcow2
assert_eq '0+2048 data
16384+2048 data
2097152+6144 data' "$(qemu-img map -U --output=json top.qcow2 | jq -r -s \
    'add | map(select(.depth == 0 and .present))[] | "\(.start)+\(.length) \(if .data then "data" else "zero" end)"')" \
    "local subclusters after dropping mid"
rebase_vs_qemu flat.qcow2 -b ""
expect_guest before-top.raw flat.qcow2
assert_eq $(( (2 << 20) / 2048 + 3)) "$(local_counts flat.qcow2 | cut -d' ' -f1)" "data subclusters after flattening"
finish
