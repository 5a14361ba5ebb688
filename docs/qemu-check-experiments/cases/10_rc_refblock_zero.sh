mkbase orig.qcow2; cp orig.qcow2 d.qcow2
B=$(( $(poke d.qcow2 get refblock 0) / 65536 ))
P d.qcow2 refcount $B 0
full d.qcow2 orig.qcow2
