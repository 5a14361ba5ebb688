mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 l2 0x100000 0
full d.qcow2 orig.qcow2
