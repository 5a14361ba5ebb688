mkbase orig.qcow2
echo "======== dirty bit, no lazy_refcounts, image otherwise clean"
cp orig.qcow2 d.qcow2; P d.qcow2 header incompatible_features --or 1
full d.qcow2 orig.qcow2
echo "incompat after -r leaks: $(poke r_leaks.qcow2 get header incompatible_features), after -r all: $(poke r_all.qcow2 get header incompatible_features)"
echo "======== dirty bit + leak, no lazy_refcounts"
cp orig.qcow2 d2.qcow2; P d2.qcow2 header incompatible_features --or 1; P d2.qcow2 l2 0x100000 0
full d2.qcow2 orig.qcow2
echo "incompat after -r leaks: $(poke r_leaks.qcow2 get header incompatible_features), after -r all: $(poke r_all.qcow2 get header incompatible_features)"
echo "======== dirty bit + leak + lazy_refcounts compat bit"
mkbase orig2.qcow2 -o lazy_refcounts=on
cp orig2.qcow2 d3.qcow2; P d3.qcow2 header incompatible_features --or 1; P d3.qcow2 l2 0x100000 0
echo "compat: $(poke d3.qcow2 get header compatible_features)"
full d3.qcow2 orig2.qcow2
echo "incompat after -r leaks: $(poke r_leaks.qcow2 get header incompatible_features), after -r all: $(poke r_all.qcow2 get header incompatible_features)"
echo "======== what does qemu-img info say / does opening r/w auto-repair? (qemu-io -c 'read 0 512' on d3 copy)"
cp d3.qcow2 d4.qcow2
X qemu-io -c "'read 0 512'" d4.qcow2
echo "incompat after qemu-io rw open: $(poke d4.qcow2 get header incompatible_features)"
chk d4.qcow2
