mkbase orig.qcow2; X qemu-img snapshot -c s1 orig.qcow2
X qemu-io -c "'write -P 0x77 0 64k'" orig.qcow2
chk orig.qcow2
echo "snapshot 0 l1_table_offset=$(poke --hex orig.qcow2 get snapshot 0 l1_table_offset) l1_size=$(poke orig.qcow2 get snapshot 0 l1_size) extra=$(poke orig.qcow2 get snapshot 0 extra_data_size)"
echo "======== snapshot L1 offset unaligned"
cp orig.qcow2 d.qcow2; P d.qcow2 snapshot 0 l1_table_offset --or 0x200
full d.qcow2 orig.qcow2
echo "======== snapshot L1 offset beyond EOF"
cp orig.qcow2 d2.qcow2; P d2.qcow2 snapshot 0 l1_table_offset 0x1000000
full d2.qcow2 orig.qcow2
echo "======== snapshot l1_size too big (0x400001 > 32MiB/8)"
cp orig.qcow2 d3.qcow2; P d3.qcow2 snapshot 0 l1_size 0x400001
full d3.qcow2 orig.qcow2
echo "======== snapshot extra_data_size 2000 (>1024)"
cp orig.qcow2 d4.qcow2; P d4.qcow2 snapshot 0 extra_data_size 2000
full d4.qcow2 orig.qcow2
echo "======== snapshot L1 entry (L2 offset) beyond EOF"
cp orig.qcow2 d5.qcow2; P d5.qcow2 snapshot-l1 0 0 0x1000000
full d5.qcow2 orig.qcow2
echo "======== snapshot L1 entry with COPIED set"
cp orig.qcow2 d6.qcow2; P d6.qcow2 snapshot-l1 0 0 --or 0x8000000000000000
full d6.qcow2 orig.qcow2
