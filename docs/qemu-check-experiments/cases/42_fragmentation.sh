echo "======== 512-byte clusters: data contiguous across an L2 table boundary (64 entries per L2)"
rm -f f.qcow2; qemu-img create -q -f qcow2 -o cluster_size=512 f.qcow2 1M
qemu-io -c 'write -P 1 0 32768' -c 'write -P 2 32768 32768' f.qcow2 >/dev/null
echo "l2 tables: $(poke --hex f.qcow2 get l2-table-offset 0) $(poke --hex f.qcow2 get l2-table-offset 32768); host(32256)=$(poke --hex f.qcow2 get host 32256) host(32768)=$(poke --hex f.qcow2 get host 32768)"
chkj f.qcow2
echo "======== reverse order writes (descending host offsets)"
rm -f g.qcow2; qemu-img create -q -f qcow2 g.qcow2 4M
qemu-io -c 'write -P 1 192k 64k' -c 'write -P 2 128k 64k' -c 'write -P 3 64k 64k' -c 'write -P 4 0 64k' g.qcow2 >/dev/null
for o in 0 65536 131072 196608; do echo -n "host($o)=$(poke --hex g.qcow2 get host $o) "; done; echo
chkj g.qcow2
echo "======== normal, compressed, normal (contiguous normals around a compressed one)"
rm -f h.qcow2; qemu-img create -q -f qcow2 h.qcow2 4M
qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 64k 64k' -c 'write -P 3 128k 64k' h.qcow2 >/dev/null
for o in 0 65536 131072; do echo -n "l2($o)=$(poke --hex h.qcow2 get l2 $o) "; done; echo
chkj h.qcow2
echo "======== zero_alloc in between"
rm -f z.qcow2; qemu-img create -q -f qcow2 z.qcow2 4M
qemu-io -c 'write -P 1 0 192k' -c 'write -z 64k 64k' z.qcow2 >/dev/null
for o in 0 65536 131072; do echo -n "l2($o)=$(poke --hex z.qcow2 get l2 $o) "; done; echo
chkj z.qcow2
echo "======== snapshot-only clusters are not counted in allocated/fragmented"
rm -f s.qcow2; qemu-img create -q -f qcow2 s.qcow2 4M
qemu-io -c 'write -P 1 0 128k' s.qcow2 >/dev/null; qemu-img snapshot -c s1 s.qcow2; qemu-io -c 'write -P 2 0 64k' s.qcow2 >/dev/null
for o in 0 65536; do echo -n "host($o)=$(poke --hex s.qcow2 get host $o) "; done; echo
chkj s.qcow2
