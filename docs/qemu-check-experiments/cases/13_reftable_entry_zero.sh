mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 reftable 0 0
full d.qcow2 orig.qcow2
