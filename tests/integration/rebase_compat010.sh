#!/bin/bash
# A compat=0.10 (version 2) overlay: no zero clusters exist, so where the
# new backing has data over old zeros, zeros are written as data; the
# header stays version 2 and still records the backing format.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 -o compat=0.10 old.qcow2 4M
qemu-io -c 'write -P 1 0 2M' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 7 512k 64k' -c 'write -P 5 3M 128k' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o compat=0.10 -b old.qcow2 -F qcow2 ov.qcow2 4M
qemu-io -c 'write -P 2 64k 64k' ov.qcow2 >/dev/null
guest_raw ov.qcow2 before.raw
cp ov.qcow2 flat.qcow2

rebase_vs_qemu ov.qcow2 -b new.qcow2 -F qcow2
expect_backing ov.qcow2 new.qcow2 qcow2
assert_eq 0.10 "$(info_field ov.qcow2 '.["format-specific"].data.compat')" "compat level after the rebase"
expect_guest before.raw ov.qcow2
compare_map ov.qcow2
# 3M..3M+128k: old zeros under new data: written as data clusters of zeros.
assert_eq 2 "$(qemu-img map -U --output=json ov.qcow2 | jq -s \
    'add | map(select(.depth == 0 and .data and .start >= 3145728 and .start < 3276800)) | map(.length) | add / 65536')" \
    "data clusters of zeros at 3M (version 2 has no zero flag)"
assert_eq 0 "$(qemu-img map -U --output=json ov.qcow2 | jq -s 'add | map(select(.depth == 0 and .present and (.data | not))) | length')" \
    "zero clusters in a version 2 image"
# Both 512k..576k (7 in new) and 1M..2M (no data in new) came up.
assert_eq $((1 + 1 + 16 + 2)) "$(check_field ov.qcow2 allocated-clusters)" "allocated clusters"

# Flattening a version 2 overlay.
rebase_vs_qemu flat.qcow2 -b ""
expect_backing flat.qcow2 "" ""
assert_eq 0.10 "$(info_field flat.qcow2 '.["format-specific"].data.compat')" "compat level after flattening"
expect_guest before.raw flat.qcow2

# Unsafe rebase of a version 2 overlay.
cp ov.qcow2 un.qcow2
rebase -u -b old.qcow2 -F qcow2 un.qcow2
expect_backing un.qcow2 old.qcow2 qcow2
assert_eq 0.10 "$(info_field un.qcow2 '.["format-specific"].data.compat')" "compat level after -u"
expect_clean un.qcow2
finish
