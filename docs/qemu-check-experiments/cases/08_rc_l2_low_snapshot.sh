mkbase orig.qcow2; X qemu-img snapshot -c s1 orig.qcow2; cp orig.qcow2 d.qcow2
L=$(( $(poke d.qcow2 get l2-table-offset 0) / 65536 ))
echo "L2 cluster $L refcount: $(poke d.qcow2 get refcount $L)"
P d.qcow2 refcount $L 1
full d.qcow2 orig.qcow2
