rm -f orig.qcow2; qemu-img create -q -f qcow2 -o extended_l2=on orig.qcow2 4M
X qemu-io -c "'write -P 0x11 0 4k'" -c "'write -P 0x22 1M 64k'" -c "'write -z 2M 64k'" orig.qcow2
echo "l2[0]=$(poke --hex orig.qcow2 get l2 0) bitmap=$(poke --hex orig.qcow2 get l2-bitmap 0)"
echo "l2[1M]=$(poke --hex orig.qcow2 get l2 0x100000) bitmap=$(poke --hex orig.qcow2 get l2-bitmap 0x100000)"
echo "l2[2M]=$(poke --hex orig.qcow2 get l2 0x200000) bitmap=$(poke --hex orig.qcow2 get l2-bitmap 0x200000)"
chk orig.qcow2; chkj orig.qcow2
echo "======== subcluster 0 both allocated and zero"
cp orig.qcow2 d.qcow2
P d.qcow2 l2-bitmap 0 --or 0x100000000
full d.qcow2 orig.qcow2
echo "======== unallocated cluster (guest 3M) with allocation bits"
cp orig.qcow2 d2.qcow2
P d2.qcow2 l2-bitmap 0x300000 0x1
full d2.qcow2 orig.qcow2
echo "======== allocated cluster, bitmap all zero-bits (0xffffffff00000000)"
cp orig.qcow2 d4.qcow2
P d4.qcow2 l2-bitmap 0x100000 0xffffffff00000000
full d4.qcow2 orig.qcow2
