for bits in 1 2 4 8 16 32 64; do
echo "======== refcount_bits=$bits, clean"
mkbase orig.qcow2 -o refcount_bits=$bits
chk orig.qcow2; chkj orig.qcow2
echo "======== refcount_bits=$bits, appended leaked cluster"
cp orig.qcow2 d.qcow2; N=$(poke d.qcow2 get clusters); truncate -s +65536 d.qcow2; P d.qcow2 refcount $N 1
full d.qcow2 orig.qcow2
if [ $bits -gt 1 ]; then
echo "======== refcount_bits=$bits, data cluster refcount = max"
cp orig.qcow2 d2.qcow2; P d2.qcow2 refcount 5 $( [ $bits = 64 ] && echo 0xffffffffffffffff || echo $(( (1 << bits) - 1 )) )
chk d2.qcow2
fi
done
echo "======== refcount_bits=1 with a snapshot (needs refcount 2)?"
mkbase o1.qcow2 -o refcount_bits=1
X qemu-img snapshot -c s1 o1.qcow2
chk o1.qcow2
