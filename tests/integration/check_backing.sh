#!/bin/bash
# imgmend-check never opens the backing file: an overlay whose backing file
# was deleted (qemu-img check cannot open it) checks fine, damaged or not;
# a FIFO as backing file would block any reader.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

qemu-img create -q -f qcow2 backing.qcow2 4M
qemu-io -c 'write -P 1 0 1M' backing.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b backing.qcow2 -F qcow2 overlay.qcow2
qemu-io -c 'write -P 2 64k 64k' -c 'write -P 3 1M 128k' overlay.qcow2 >/dev/null
compare_full overlay.qcow2
qemu-img check --output=json overlay.qcow2 > with-backing.json

cp overlay.qcow2 leak.qcow2
H=$(cluster_of "$(poke leak.qcow2 get host 0x100000)")
poke leak.qcow2 l2 0x100000 0
compare_full leak.qcow2
qemu-img check --output=json leak.qcow2 > leak-with-backing.json 2>/dev/null || true

rm backing.qcow2

# qemu-img cannot check the overlay any more.
qrc=0
qemu-img check overlay.qcow2 > /dev/null 2> qemu.err || qrc=$?
assert_eq 1 "$qrc" "qemu-img check without the backing file"
grep -q 'Could not open backing file' qemu.err || fail "qemu-img message: $(cat qemu.err)"
pass

# We give what qemu gave while the backing file existed.
for img in overlay leak; do
    json=with-backing.json
    [ $img = leak ] && json=leak-with-backing.json
    ours $img.qcow2
    q=$(jq -S 'del(.filename)' "$json")
    o=$(jq -S 'del(.findings, .filename)' ours-check.json)
    if [ "$q" != "$o" ]; then
        diff -u <(echo "$q") <(echo "$o") >&2
        fail "check of $img without its backing file differs from qemu's with it"
    fi
    pass
done
expect_exit 0 overlay.qcow2
expect_kinds overlay.qcow2
expect_exit 3 leak.qcow2
expect_located leak.qcow2 refcount-too-high cluster="$H" references=0

# A FIFO in place of the backing file: opening it would block.
mkfifo backing.qcow2
rc=0
timeout 20 "$CHECK" --output=json overlay.qcow2 > fifo.json 2> fifo.err || rc=$?
assert_eq 0 "$rc" "exit code with a FIFO as backing file (124 = blocked)"
rm backing.qcow2
finish
