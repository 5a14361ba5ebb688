#!/bin/bash
# Raw backing files on either side: a qcow2 overlay over raw moved onto
# qcow2, and over qcow2 moved onto raw (-F raw).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

# old.raw: 1 at 0..1M, 3 at 2M..3M (a hole between: reads zeros).
qemu-img create -q -f raw old.raw 4M
qemu-io -f raw -c 'write -P 1 0 1M' -c 'write -P 3 2M 1M' old.raw >/dev/null
# new.qcow2: 1 at 0..512k, 9 at 1M+256k..1M+320k (old reads zeros there).
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 512k' -c 'write -P 9 1280k 64k' new.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b old.raw -F raw ov.qcow2 4M
qemu-io -c 'write -P 2 128k 64k' -c 'write -P 2 2M 64k' ov.qcow2 >/dev/null
guest_raw ov.qcow2 before.raw

cp ov.qcow2 ov2.qcow2
rebase_vs_qemu ov.qcow2 -b new.qcow2 -F qcow2
expect_backing ov.qcow2 new.qcow2 qcow2
expect_guest before.raw ov.qcow2
expect_local_zero ov.qcow2 $((1280 << 10)) $((64 << 10))
expect_not_local ov.qcow2 0 $((128 << 10))
expect_not_local ov.qcow2 $((3 << 20)) $((1 << 20))

# The same overlay moved onto another raw file (8 at 2M+512k..3M differs).
cp old.raw new.raw
qemu-io -f raw -c 'write -P 8 2560k 512k' new.raw >/dev/null
rebase_vs_qemu ov2.qcow2 -b new.raw -F raw
expect_backing ov2.qcow2 new.raw raw
expect_guest before.raw ov2.qcow2
expect_not_local ov2.qcow2 0 $((128 << 10))
expect_not_local ov2.qcow2 $((2112 << 10)) $((448 << 10))
assert_eq $(( (512 << 10) / 65536 )) "$(qemu-img map -U --output=json ov2.qcow2 | jq -s --argjson a $((2560 << 10)) \
    'add | map(select(.start >= $a and .start < $a + 524288 and .depth == 0 and .data)) | map(.length) | add / 65536')" \
    "clusters copied at 2M+512k..3M"

# A qcow2 overlay over qcow2 moved onto raw, then back onto qcow2 (the
# format extension follows each time).
qemu-img convert -O raw new.qcow2 flat-new.raw
cp ov.qcow2 ov3.qcow2
rebase -b flat-new.raw -F raw ov3.qcow2
expect_backing ov3.qcow2 flat-new.raw raw
expect_guest before.raw ov3.qcow2
expect_clean ov3.qcow2
rebase -b new.qcow2 -F qcow2 ov3.qcow2
expect_backing ov3.qcow2 new.qcow2 qcow2
expect_guest before.raw ov3.qcow2
expect_clean ov3.qcow2
finish
