mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 l2 0 --or 0x200
full d.qcow2 orig.qcow2
echo "======== unaligned preallocated zero cluster (bit 0 set)"
cp orig.qcow2 d2.qcow2
P d2.qcow2 l2 0 --or 0x201
full d2.qcow2 orig.qcow2
