mkbase orig.qcow2
for what in l1 reftable l2 header refblock; do
echo "======== L2 entry for guest 0x10000 -> the $what cluster (COPIED set)"
cp orig.qcow2 d.qcow2
case $what in
l1) T=$(poke d.qcow2 get header l1_table_offset);;
reftable) T=$(poke d.qcow2 get header refcount_table_offset);;
l2) T=$(poke d.qcow2 get l2-table-offset 0);;
header) T=0;;
refblock) T=$(poke d.qcow2 get refblock 0);;
esac
if [ $what = header ]; then
  P d.qcow2 l2 0x10000 0x8000000000000000
else
  P d.qcow2 l2 0x10000 $(printf '0x%x' $((T | (1<<63))))
fi
full d.qcow2 orig.qcow2
done
