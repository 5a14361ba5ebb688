mkbase orig.qcow2; X qemu-img snapshot -c s1 orig.qcow2; cp orig.qcow2 d.qcow2
chk orig.qcow2
H=$(( $(poke d.qcow2 get host 0) / 65536 ))
echo "data cluster $H refcount: $(poke d.qcow2 get refcount $H)"
P d.qcow2 refcount $H 1
full d.qcow2 orig.qcow2
