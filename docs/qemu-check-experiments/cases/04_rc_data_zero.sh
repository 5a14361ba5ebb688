mkbase orig.qcow2; cp orig.qcow2 d.qcow2
H=$(( $(poke d.qcow2 get host 0) / 65536 ))
P d.qcow2 refcount $H 0
full d.qcow2 orig.qcow2
