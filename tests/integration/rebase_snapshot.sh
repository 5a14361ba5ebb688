#!/bin/bash
# An overlay with an internal snapshot: its L2 tables and data clusters are
# shared with the snapshot, so the rebase must copy the L2 tables it changes
# (and, with extended L2, the data clusters it adds subclusters to) and keep
# every refcount exact: qemu-img check must stay clean, the snapshot must
# keep its own tables, and the active guest view must not change.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 old.qcow2 4M
qemu-io -c 'write -P 1 0 2M' old.qcow2 >/dev/null
qemu-img create -q -f qcow2 new.qcow2 4M
qemu-io -c 'write -P 1 0 2M' -c 'write -P 9 69632 2048' -c 'write -P 9 1M 4k' -c 'write -P 9 3M 4k' new.qcow2 >/dev/null

for ext in off on; do
    ov=ov-$ext.qcow2
    qemu-img create -q -f qcow2 -o extended_l2=$ext -b old.qcow2 -F qcow2 "$ov" 4M
    qemu-io -c 'write -P 2 65536 2048' -c 'write -P 2 1050624 2048' "$ov" >/dev/null
    qemu-img snapshot -c s1 "$ov"
    expect_clean "$ov"
    l2_before=$(qemu-img snapshot -l "$ov" | grep -c s1)
    rebase_vs_qemu "$ov" -b new.qcow2 -F qcow2
    expect_backing "$ov" new.qcow2 qcow2
    assert_eq "$l2_before" "$(qemu-img snapshot -l "$ov" | grep -c s1)" "snapshot s1 still listed ($ext)"
    # The snapshot's own view is untouched: what it held (0x02 at 64k) is
    # still there when it is applied to a copy.
    cp "$ov" applied.qcow2
    qemu-img snapshot -a s1 applied.qcow2 || fail "applying s1 after the rebase ($ext)"
    expect_clean applied.qcow2
    qemu-io -c 'read -P 2 65536 2048' -c 'read -P 2 1050624 2048' applied.qcow2 >/dev/null ||
        fail "snapshot s1 lost its data ($ext)"
    pass
done
finish
