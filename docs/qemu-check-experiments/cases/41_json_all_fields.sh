# compressed + fragmented + leak + corruption, then repair: every key present
rm -f o.qcow2; qemu-img create -q -f qcow2 o.qcow2 4M
qemu-io -c 'write -c -P 0x33 0 64k' -c 'write -P 0x11 1M 64k' -c 'write -P 0x12 2M 64k' -c 'write -P 0x13 1114112 64k' o.qcow2 >/dev/null
chkj o.qcow2
cp o.qcow2 d.qcow2
N=$(poke d.qcow2 get clusters); truncate -s +65536 d.qcow2; P d.qcow2 refcount $N 1
H=$(( $(poke d.qcow2 get host 0x100000) / 65536 )); P d.qcow2 refcount $H 2
P d.qcow2 l2 0x200000 --and-not 0x8000000000000000
H2=$(( $(poke d.qcow2 get host 0x110000) / 65536 ))
P d.qcow2 l2 0x300000 $(poke d.qcow2 get l2 0x110000)
chkj d.qcow2
cp d.qcow2 r.qcow2; chkj r.qcow2 -r all
cp d.qcow2 r2.qcow2; chkj r2.qcow2 -r leaks
cp d.qcow2 r3.qcow2; chk r3.qcow2 -r all
