#!/bin/bash
# -b "": the overlay takes in everything its chain reads and loses its
# backing reference (and the backing-format extension). Ranges the chain
# reads as zeros stay unallocated; zero writes over backing data become
# zero clusters.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 base.qcow2 6M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 3 4M 256k' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 6M
qemu-io -c 'write -P 2 2M 128k' -c 'write -z 4M 64k' mid.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 6M
qemu-io -c 'write -P 9 64k 64k' top.qcow2 >/dev/null
guest_raw top.qcow2 before.raw

rebase_vs_qemu top.qcow2 -b ""
expect_backing top.qcow2 "" ""
expect_backing qemu-top.qcow2 "" ""
assert_eq "" "$(info_field top.qcow2 '.["backing-filename-format"]')" "no backing-format extension left"
assert_eq 0 "$(qemu-img info -U --output=json --backing-chain top.qcow2 | jq 'length - 1')" "layers below top"
expect_guest before.raw top.qcow2
compare_map top.qcow2
# Everything the chain held is local now; where it reads zeros (nothing
# there, or mid's zeros over base data) nothing needs to be written.
assert_eq $(( (1024 + 128 + 192) / 64 )) "$(qemu-img map -U --output=json top.qcow2 | jq -s \
    'add | map(select(.data)) | map(.length) | add / 65536')" "data clusters after flattening"
qemu-img map -U --output=json top.qcow2 | jq -e -s \
    'add | map(select(.start < 2097152 and .start + .length > 1048576)) | all(.present | not)' >/dev/null ||
    fail "1M..2M (zeros throughout the chain) was allocated"
pass
qemu-img map -U --output=json top.qcow2 | jq -e -s \
    'add | map(select(.start < 4259840 and .start + .length > 4194304)) | all(.data | not)' >/dev/null ||
    fail "4M..4M+64k (mid's zeros) got a data cluster"
pass

# The base layer alone (no backing): flattening changes no data.
cp base.qcow2 alone.qcow2
rebase -b "" alone.qcow2
cmp base.qcow2 alone.qcow2 >&2 || fail "flattening an image without a backing file changed it"
pass

# Unsafe flatten only drops the reference (the guest then reads the
# overlay's own layer only).
cp mid.qcow2 cut.qcow2
rebase -u -b "" cut.qcow2
expect_backing cut.qcow2 "" ""
expect_clean cut.qcow2
finish
