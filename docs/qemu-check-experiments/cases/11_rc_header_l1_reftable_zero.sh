for what in header l1 reftable; do
echo "======== refcount of the $what cluster set to 0"
mkbase orig.qcow2; cp orig.qcow2 d.qcow2
case $what in
header) C=0;;
l1) C=$(( $(poke d.qcow2 get header l1_table_offset) / 65536 ));;
reftable) C=$(( $(poke d.qcow2 get header refcount_table_offset) / 65536 ));;
esac
P d.qcow2 refcount $C 0
full d.qcow2 orig.qcow2
done
