mkbase orig.qcow2; X qemu-img snapshot -c s1 orig.qcow2; cp orig.qcow2 d.qcow2
echo "l2[0] before: $(poke --hex d.qcow2 get l2 0)"
P d.qcow2 l2 0 --or 0x8000000000000000
full d.qcow2 orig.qcow2
