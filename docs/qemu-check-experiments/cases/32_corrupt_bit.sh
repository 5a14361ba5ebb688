mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 header incompatible_features --or 2
full d.qcow2 orig.qcow2
echo "incompatible_features after -r leaks: $(poke r_leaks.qcow2 get header incompatible_features), after -r all: $(poke r_all.qcow2 get header incompatible_features)"
echo "======== corrupt bit + a leak"
cp d.qcow2 d2.qcow2; P d2.qcow2 l2 0x100000 0
full d2.qcow2 orig.qcow2
echo "incompatible_features after -r leaks: $(poke r_leaks.qcow2 get header incompatible_features), after -r all: $(poke r_all.qcow2 get header incompatible_features)"
echo "======== corrupt bit + a corruption (refcount 0)"
cp d.qcow2 d3.qcow2; P d3.qcow2 refcount 5 0
full d3.qcow2 orig.qcow2
echo "incompatible_features after -r leaks: $(poke r_leaks.qcow2 get header incompatible_features), after -r all: $(poke r_all.qcow2 get header incompatible_features)"
