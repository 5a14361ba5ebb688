mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 l2 0x10000 $(poke d.qcow2 get l2 0)
full d.qcow2 orig.qcow2
echo "======== three L2 entries -> one cluster (refcount 1)"
cp orig.qcow2 d3.qcow2
P d3.qcow2 l2 0x10000 $(poke d3.qcow2 get l2 0)
P d3.qcow2 l2 0x20000 $(poke d3.qcow2 get l2 0)
full d3.qcow2 orig.qcow2
