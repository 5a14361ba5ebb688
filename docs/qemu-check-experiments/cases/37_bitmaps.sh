mkbase orig.qcow2
X qemu-img bitmap --add -g 64k orig.qcow2 b0
X qemu-io -c "'write -P 0x66 2M 64k'" orig.qcow2 2>&1 | head -0
qemu-img bitmap --add orig.qcow2 b1 ; qemu-io -c 'write -P 0x67 3M 64k' orig.qcow2 >/dev/null
echo "bitmap 0 table_offset=$(poke --hex orig.qcow2 get bitmap 0 table_offset) size=$(poke orig.qcow2 get bitmap 0 table_size) flags=$(poke --hex orig.qcow2 get bitmap 0 flags) entry0=$(poke --hex orig.qcow2 get bitmap-entry 0 0)"
echo "autoclear=$(poke orig.qcow2 get header autoclear_features)"
X qemu-img info orig.qcow2 | grep -A30 bitmaps | head -20
chk orig.qcow2; chkj orig.qcow2
echo "======== bitmap 0 in_use flag set"
cp orig.qcow2 d.qcow2; P d.qcow2 bitmap 0 flags --or 1
full d.qcow2 orig.qcow2
X qemu-img info r_all.qcow2 \| grep -A12 bitmaps
echo "======== bitmap table cluster refcount 0"
cp orig.qcow2 d2.qcow2; T=$(( $(poke d2.qcow2 get bitmap 0 table_offset) / 65536 )); P d2.qcow2 refcount $T 0
full d2.qcow2 orig.qcow2
echo "======== bitmap data cluster (entry 0 -> offset) refcount 0"
cp orig.qcow2 d3.qcow2; E=$(poke d3.qcow2 get bitmap-entry 0 0); echo "entry0=$E"
if [ $E -ge 512 ]; then P d3.qcow2 refcount $((E / 65536)) 0; full d3.qcow2 orig.qcow2; fi
echo "======== bitmaps autoclear bit cleared (extension ignored)"
cp orig.qcow2 d4.qcow2; P d4.qcow2 header autoclear_features --and-not 1
full d4.qcow2 orig.qcow2
echo "autoclear after -r leaks: $(poke r_leaks.qcow2 get header autoclear_features)"
X qemu-img info r_leaks.qcow2 \| grep -c bitmaps
echo "======== bitmap table entry unaligned"
cp orig.qcow2 d5.qcow2; P d5.qcow2 bitmap-entry 0 0 0x50200
full d5.qcow2 orig.qcow2
echo "======== bitmap table offset unaligned"
cp orig.qcow2 d6.qcow2; P d6.qcow2 bitmap 0 table_offset --or 0x200
full d6.qcow2 orig.qcow2
