mkbase orig.qcow2
echo "======== cut in the middle of the last data cluster (file 0x80000 -> 0x78000)"
cp orig.qcow2 d.qcow2; X truncate -s $((0x78000)) d.qcow2
full d.qcow2 orig.qcow2
echo "======== cut off whole last data cluster (-> 0x70000)"
cp orig.qcow2 d2.qcow2; X truncate -s $((0x70000)) d2.qcow2
full d2.qcow2 orig.qcow2
echo "======== cut off metadata: file -> 0x48000 (half the L2 table, all data)"
cp orig.qcow2 d3.qcow2; X truncate -s $((0x48000)) d3.qcow2
full d3.qcow2 orig.qcow2
echo "======== cut off metadata: file -> 0x28000 (half the refblock; L1, L2 and data gone)"
cp orig.qcow2 d4.qcow2; X truncate -s $((0x28000)) d4.qcow2
full d4.qcow2 orig.qcow2
echo "======== metadata at the end: 512-byte clusters, L2 table allocated last, file cut inside it"
rm -f o5.qcow2; qemu-img create -q -f qcow2 -o cluster_size=512 o5.qcow2 1M
qemu-io -c 'write -P 0x11 0 4k' -c 'write -P 0x22 512k 512' o5.qcow2 >/dev/null
L=$(poke o5.qcow2 get l2-table-offset 0x80000); echo "l2 for 512k at $L, file size $(stat -c %s o5.qcow2)"
cp o5.qcow2 d5.qcow2; X truncate -s $((L + 256)) d5.qcow2
full d5.qcow2 o5.qcow2
