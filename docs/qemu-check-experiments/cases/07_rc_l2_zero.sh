mkbase orig.qcow2; cp orig.qcow2 d.qcow2
L=$(( $(poke d.qcow2 get l2-table-offset 0) / 65536 ))
P d.qcow2 refcount $L 0
full d.qcow2 orig.qcow2
