mkbase orig.qcow2; cp orig.qcow2 d.qcow2; P d.qcow2 l2 0x100000 0
qemu-nbd -t --fork --pid-file=$PWD/nbd.pid -k $PWD/nbd.sock -f qcow2 d.qcow2; sleep 0.5
echo "qemu-nbd pid $(cat nbd.pid)"; X grep -i -e "OFDLCK" /proc/locks \| head -20
chk d.qcow2; chkj d.qcow2
chk d.qcow2 -U; chkj d.qcow2 -U
chk d.qcow2 -r leaks
chk d.qcow2 -r leaks -U
chk d.qcow2 -q
chk d.qcow2 -q -U
kill $(cat nbd.pid); sleep 0.5
echo "======== read-only holder (qemu-nbd -r)"
qemu-nbd -r -t --fork --pid-file=$PWD/nbd2.pid -k $PWD/nbd2.sock -f qcow2 d.qcow2; sleep 0.5
chk d.qcow2
chk d.qcow2 -r leaks
kill $(cat nbd2.pid); sleep 0.5
echo "======== -q on damaged / clean / json"
chk d.qcow2 -q; chkj d.qcow2 -q; chk orig.qcow2 -q
