rm -f orig.qcow2; qemu-img create -q -f qcow2 orig.qcow2 4M
X qemu-io -c "'write -c -P 0x33 0 64k'" -c "'write -c -P 0x44 64k 64k'" -c "'write -P 0x55 1M 64k'" orig.qcow2
X qemu-img map --output=json orig.qcow2
echo "l2[0]=$(poke --hex orig.qcow2 get l2 0) host=$(poke --hex orig.qcow2 get host 0); l2[64k]=$(poke --hex orig.qcow2 get l2 0x10000) host=$(poke --hex orig.qcow2 get host 0x10000)"
C=$(( $(poke orig.qcow2 get host 0) / 65536 ))
echo "compressed host cluster $C refcount $(poke orig.qcow2 get refcount $C)"
chk orig.qcow2; chkj orig.qcow2
echo "======== compressed entry with COPIED set"
cp orig.qcow2 d.qcow2
P d.qcow2 l2 0 --or 0x8000000000000000
full d.qcow2 orig.qcow2
echo "======== compressed cluster refcount too low (2 -> 1)"
cp orig.qcow2 d2.qcow2
P d2.qcow2 refcount $C 1
full d2.qcow2 orig.qcow2
echo "======== compressed cluster refcount 0"
cp orig.qcow2 d3.qcow2
P d3.qcow2 refcount $C 0
full d3.qcow2 orig.qcow2
