mkbase orig.qcow2
for bits in 0x0100000000000000 0x1 0x100; do
echo "======== L1 entry --or $bits"
cp orig.qcow2 d.qcow2
P d.qcow2 l1 0 --or $bits
full d.qcow2 orig.qcow2
done
