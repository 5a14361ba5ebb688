t() { local img=$1; shift; echo "======== $img: $*"; cp $img d.qcow2; P d.qcow2 "$@"; chk d.qcow2; }
rm -f e.qcow2; qemu-img create -q -f qcow2 -o extended_l2=on e.qcow2 4M; qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 64k 64k' e.qcow2 >/dev/null
echo "e: l2(64k)=$(poke --hex e.qcow2 get l2 0x10000) bitmap=$(poke --hex e.qcow2 get l2-bitmap 0x10000)"
t e.qcow2 l2 0 --or 1
t e.qcow2 l2-bitmap 0x10000 0x1
t e.qcow2 l2-bitmap 0x10000 0x100000000
t e.qcow2 l2 0x20000 0x2
mkbase v2.qcow2 -o compat=0.10
t v2.qcow2 l2 0 --or 1
mkbase b.qcow2
t b.qcow2 l2 0x20000 0x1
t b.qcow2 l2 0x20000 0x2
t b.qcow2 l2 0x20000 0x8000000000000000
t b.qcow2 l2 0x20000 0x0100000000000000
echo "======== two L1 entries -> one L2 table (L1 index 1 := L1 index 0); image 4M has l1_size $(poke b.qcow2 get header l1_size)"
rm -f big.qcow2; qemu-img create -q -f qcow2 big.qcow2 1G; qemu-io -c 'write -P 1 0 64k' big.qcow2 >/dev/null
cp big.qcow2 d.qcow2; P d.qcow2 l1 1 $(poke d.qcow2 get l1 0); chk d.qcow2
echo "======== L1 entry 1 -> the L1 table itself"
cp big.qcow2 d.qcow2; P d.qcow2 l1 1 $(printf '0x%x' $(( $(poke d.qcow2 get header l1_table_offset) | (1<<63) ))); chk d.qcow2
echo "======== snapshot-only L2 table entry with reserved bits"
mkbase s.qcow2; qemu-img snapshot -c s1 s.qcow2; qemu-io -c 'write -P 9 0 64k' s.qcow2 >/dev/null
SL2=$(( $(poke s.qcow2 get snapshot-l1 0 0) & 0xfffffffffe00 )); echo "snapshot L2 at $SL2, active L2 at $(poke s.qcow2 get l2-table-offset 0)"
cp s.qcow2 d.qcow2
python3 -c "
import struct,sys
f=open('d.qcow2','r+b'); f.seek($SL2); v=struct.unpack('>Q',f.read(8))[0]; f.seek($SL2); f.write(struct.pack('>Q', v|0x0100000000000000)); print(hex(v))"
chk d.qcow2
