mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 reftable 0 0x1000000
full d.qcow2 orig.qcow2
echo "file size after -r all: $(stat -c %s r_all.qcow2)"
echo "======== unused reftable entry 1 beyond EOF"
cp orig.qcow2 d2.qcow2
P d2.qcow2 reftable 1 0x1000000
full d2.qcow2 orig.qcow2
echo "file size after -r all: $(stat -c %s r_all.qcow2)"
echo "======== unused reftable entry 1 pointing at a data cluster (0x50000)"
cp orig.qcow2 d3.qcow2
P d3.qcow2 reftable 1 0x50000
full d3.qcow2 orig.qcow2
