#!/bin/bash
# An external data file (-o data_file=...): offsets are in the data file,
# which the human table names; guest cluster 0 is at data file offset 0,
# a valid mapping there (bit 63 set, offset 0). With data_file_raw=on the
# data file is also a raw image of the guest. Also as a backing file.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 -o data_file=late.data late.qcow2 4M
qemu-io -c 'write -P 1 64k 1M' -c 'write -z 2M 64k' -c 'write -P 2 3M 4k' -c 'discard 512k 64k' late.qcow2 > /dev/null
compare_all late.qcow2
compare_human late.qcow2

for raw in off on; do
    img=d-$raw.qcow2
    qemu-img create -q -f qcow2 -o data_file=d-$raw.data,data_file_raw=$raw $img 4M
    qemu-io -c 'write -P 1 0 1M' -c 'write -z 2M 64k' -c 'write -P 2 3M 4k' -c 'discard 512k 64k' $img > /dev/null
    compare_guest $img
    compare_human $img
    compare_map $img
    compare_map $img --start-offset=500k --max-length=100k
done

qemu-img create -q -f qcow2 -b d-off.qcow2 -F qcow2 ov.qcow2
qemu-io -c 'write -P 5 1M 4k' ov.qcow2 > /dev/null
compare_all ov.qcow2
compare_human ov.qcow2

qemu-img create -q -f qcow2 -o data_file=sub.data,extended_l2=on sub.qcow2 1M
qemu-io -c 'write -P 1 0 4k' -c 'write -z 8k 4k' -c 'write -P 2 128k 4k' sub.qcow2 > /dev/null
compare_guest sub.qcow2
compare_human sub.qcow2
compare_map sub.qcow2

# A data file that went missing is named in the error.
rm late.data
compare_map_fails late.qcow2
grep -qF late.data ours.err || fail "error does not name late.data: $(cat ours.err)"
pass
finish
