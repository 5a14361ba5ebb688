mkbase orig.qcow2; cp orig.qcow2 d.qcow2
P d.qcow2 l2 0 0x8000000001000000
full d.qcow2 orig.qcow2
echo "======== L2 entry beyond EOF by less than a cluster? (entry = file size exactly)"
cp orig.qcow2 d2.qcow2
P d2.qcow2 l2 0 $(printf "0x%x" $(( (1<<63) | $(stat -c %s orig.qcow2) )))
full d2.qcow2 orig.qcow2
