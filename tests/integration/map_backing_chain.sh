#!/bin/bash
# Backing chains of depth 1 to 3 mixing raw and qcow2 layers and cluster
# sizes (2M over 512 B over 4k over raw), a qcow2 file declared as a raw
# backing (-F raw), and mapping each layer on its own.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f raw r0.raw 4M
qemu-io -f raw -c 'write -P 1 0 1M' -c 'write -P 0 1M 64k' -c 'write -P 9 3M 100k' r0.raw > /dev/null
compare_all r0.raw
compare_human r0.raw

qemu-img create -q -f qcow2 -o cluster_size=4k -b r0.raw -F raw q1.qcow2 5M
qemu-io -c 'write -P 2 512k 64k' -c 'write -z 3M 64k' -c 'discard 0 64k' -c 'write -P 3 4M 64k' q1.qcow2 > /dev/null
compare_all q1.qcow2
compare_human q1.qcow2

qemu-img create -q -f qcow2 -o cluster_size=512 -b q1.qcow2 -F qcow2 q2.qcow2 3M
qemu-io -c 'write -P 4 768k 4k' -c 'write -z -u 64k 64k' -c 'write -P 5 1000k 3k' q2.qcow2 > /dev/null
compare_all q2.qcow2
compare_human q2.qcow2

qemu-img create -q -f qcow2 -o cluster_size=2M -b q2.qcow2 -F qcow2 q3.qcow2 6M
qemu-io -c 'write -P 6 2M 4k' -c 'discard 4M 2M' q3.qcow2 > /dev/null
compare_all q3.qcow2
compare_human q3.qcow2
compare_map q3.qcow2 --start-offset=700k --max-length=400k

# A qcow2 chain over a raw layer in the middle is impossible, but a qcow2
# file read as raw is not: its header and tables become guest data.
qemu-img create -q -f qcow2 inner.qcow2 1M
qemu-io -c 'write -P 1 0 64k' inner.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b inner.qcow2 -F raw as-raw.qcow2 1M
qemu-io -c 'write -P 2 512k 4k' as-raw.qcow2 > /dev/null
compare_all as-raw.qcow2
compare_human as-raw.qcow2
finish
