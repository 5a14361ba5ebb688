mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 l2 0 --and-not 0x8000000000000000
full d.qcow2 orig.qcow2
