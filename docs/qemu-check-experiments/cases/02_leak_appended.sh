mkbase orig.qcow2; cp orig.qcow2 d.qcow2
N=$(poke d.qcow2 get clusters)
X truncate -s +65536 d.qcow2
P d.qcow2 refcount $N 1
full d.qcow2 orig.qcow2
echo "file size after -r leaks: $(stat -c %s r_leaks.qcow2)"
