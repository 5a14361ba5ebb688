#!/bin/bash
# Nothing to map: a zero-length window, a window starting at or past the
# end, and zero-sized images. qemu-img still prints one extent of length 0
# at the start offset; the human table has only its header.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 img.qcow2 6M
qemu-io -c 'write -P 1 0 1M' img.qcow2 > /dev/null
qemu-img create -q -f qcow2 empty.qcow2 0
qemu-img create -q -f raw empty.raw 0

compare_human img.qcow2 --max-length=0
compare_human img.qcow2 --start-offset=6M
compare_human empty.qcow2
compare_human empty.raw
compare_guest empty.qcow2

compare_map img.qcow2 --max-length=0
compare_map img.qcow2 --start-offset=1M --max-length=0
compare_map img.qcow2 --start-offset=6M
compare_map img.qcow2 --start-offset=7M
compare_map img.qcow2 --start-offset=1T --max-length=1T
compare_map empty.qcow2
compare_map empty.raw

# qemu computes start + max-length in int64_t (built with -fwrapv): past
# INT64_MAX the end wraps negative and the window is empty.
compare_human img.qcow2 --start-offset=1 --max-length=9223372036854775807
compare_map img.qcow2 --start-offset=0 --max-length=9223372036854775807
compare_map img.qcow2 --start-offset=1 --max-length=9223372036854775807
compare_map img.qcow2 --start-offset=1M --max-length=9223372036854775000
finish
