mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 l1 0 --or 0x200
full d.qcow2 orig.qcow2
