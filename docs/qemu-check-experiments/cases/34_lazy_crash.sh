rm -f c.qcow2; qemu-img create -q -f qcow2 -o lazy_refcounts=on c.qcow2 4M
X qemu-io -c "'write -P 0x11 0 64k'" -c "'write -P 0x22 1M 128k'" -c abort c.qcow2
echo "incompatible_features: $(poke c.qcow2 get header incompatible_features) compat: $(poke c.qcow2 get header compatible_features) size $(stat -c %s c.qcow2)"
cp c.qcow2 ref.qcow2
full c.qcow2 c.qcow2
echo "incompat after -r leaks: $(poke r_leaks.qcow2 get header incompatible_features), after -r all: $(poke r_all.qcow2 get header incompatible_features)"
X qemu-img compare -U r_all.qcow2 r_leaks.qcow2
echo "======== same with kill -9 of an interactive qemu-io"
rm -f k.qcow2; qemu-img create -q -f qcow2 -o lazy_refcounts=on k.qcow2 4M
mkfifo fifo; (qemu-io k.qcow2 < fifo > qio.out 2>&1 & echo $! > qio.pid; wait) &
exec 7>fifo
echo 'write -P 0x11 0 64k' >&7; sleep 1; echo 'write -P 0x22 1M 128k' >&7; sleep 1; cat qio.out | sed 's/^/  | /'
kill -9 $(cat qio.pid); exec 7>&-; sleep 0.5
echo "incompatible_features: $(poke k.qcow2 get header incompatible_features) size $(stat -c %s k.qcow2)"
full k.qcow2 ref.qcow2
