mkbase orig.qcow2
for v in 0 0x1000000; do
echo "======== header refcount_table_offset = $v"
cp orig.qcow2 d.qcow2
P d.qcow2 header refcount_table_offset $v
full d.qcow2 orig.qcow2
done
echo "======== header refcount_table_clusters = 0"
cp orig.qcow2 d.qcow2
P d.qcow2 header refcount_table_clusters 0
full d.qcow2 orig.qcow2
