mkbase orig.qcow2
t() { echo "======== $*"; cp orig.qcow2 d.qcow2; P d.qcow2 "$@"; chk d.qcow2; chkj d.qcow2; }
t header l1_table_offset --or 0x200
t header l1_table_offset 0x1000000
t header l1_size 0
t header refcount_table_offset --or 0x200
t header version 4
t header version 2
t header incompatible_features --or 0x20
t header compatible_features --or 0x2
t header autoclear_features --or 0x4
t header nb_snapshots 1
t header refcount_order 7
t header cluster_bits 22
t header magic 0
echo "======== overflow: refcount_bits=1, two L2 entries -> one cluster"
mkbase o1.qcow2 -o refcount_bits=1; cp o1.qcow2 d.qcow2
P d.qcow2 l2 0x10000 $(poke d.qcow2 get l2 0)
full d.qcow2 o1.qcow2
echo "======== refcount_bits=64 max refcount"
mkbase o64.qcow2 -o refcount_bits=64; cp o64.qcow2 d.qcow2; P d.qcow2 refcount 5 0xffffffffffffffff; chk d.qcow2
echo "======== leak beyond the refcounted end: refcount set for a cluster past EOF (file not extended)"
cp orig.qcow2 d.qcow2; P d.qcow2 refcount 20 1; chk d.qcow2; chkj d.qcow2
echo "======== several kinds at once (order of messages)"
cp orig.qcow2 d.qcow2
P d.qcow2 l1 0 --or 0x0100000000000000
P d.qcow2 l2 0 --or 0x0200000000000000
P d.qcow2 l2 0x100000 --and-not 0x8000000000000000
P d.qcow2 refcount 7 0
P d.qcow2 refcount 3 2
N=$(poke d.qcow2 get clusters); truncate -s +65536 d.qcow2; P d.qcow2 refcount $N 1
P d.qcow2 l2 0x200000 0x8000000002000000
chk d.qcow2
