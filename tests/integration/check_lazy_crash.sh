#!/bin/bash
# A real crash with lazy refcounts: qemu-io writes into a lazy_refcounts=on
# image and is killed with SIGKILL; the data clusters' refcounts were never
# written (behaviour doc 6.13 [34]).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

qemu-img create -q -f qcow2 -o lazy_refcounts=on crash.qcow2 4M
mkfifo cmds
qemu-io crash.qcow2 < cmds > qemu-io.out 2>&1 &
QIO=$!
exec 7> cmds
# One command at a time (qemu-io reads one line per wake-up); wait until
# each write reached the L2 table on disk (poke takes no lock).
wait_mapped() {
    for _ in $(seq 200); do
        [ "$(poke crash.qcow2 get host "$1" 2>/dev/null || echo 0)" != 0 ] && break
        sleep 0.05
    done
    [ "$(poke crash.qcow2 get host "$1")" != 0 ] || fail "qemu-io did not write guest $1"
    pass
}
echo 'write -P 0x11 0 64k' >&7
wait_mapped 0
echo 'write -P 0x22 1M 128k' >&7
wait_mapped 0x110000
{ kill -9 $QIO; wait $QIO; } 2>/dev/null || true
exec 7>&-
assert_eq 1 $(( $(poke crash.qcow2 get header incompatible_features) & 1 )) "dirty bit after the crash"

compare_full crash.qcow2
assert_eq 2 "$ORC" "exit code of a crashed lazy-refcount image"
expect_kinds crash.qcow2 refcount-too-low oflag-copied-l2 dirty-bit
expect_warning crash.qcow2 dirty-bit
L2=$(poke crash.qcow2 get l2-table-offset 0)
for g in 0 0x100000 0x110000; do
    C=$(cluster_of "$(poke crash.qcow2 get host $g)")
    expect_located crash.qcow2 refcount-too-low cluster="$C" refcount=0 references=1 l1-index=0 \
        l2-index=$((g / 65536)) guest-offset=$g
    expect_located crash.qcow2 oflag-copied-l2 cluster="$C" refcount=0 l2-index=$((g / 65536)) guest-offset=$g \
        host-offset=$((L2 + g / 65536 * 8))
done
expect_count crash.qcow2 refcount-too-low 3
finish
