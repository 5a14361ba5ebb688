#!/bin/bash
# Relative backing paths resolve against the directory of the image that
# names them, not the current directory: a chain of subfolders referring
# to ../base, mapped from several working directories, by absolute path
# and through a symlink in the overlay's own folder (one elsewhere fails).
. "$(dirname "$0")/lib.sh"

mkdir -p images/a/b images/c
qemu-img create -q -f qcow2 images/base.qcow2 1M
qemu-io -c 'write -P 1 0 64k' images/base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b ../../base.qcow2 -F qcow2 images/a/b/mid.qcow2
qemu-io -c 'write -P 2 128k 4k' images/a/b/mid.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b b/mid.qcow2 -F qcow2 images/a/top.qcow2
qemu-io -c 'write -P 3 256k 4k' images/a/top.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b ../base.qcow2 -F qcow2 images/c/side.qcow2
qemu-io -c 'write -P 4 64k 4k' images/c/side.qcow2 > /dev/null

compare_all images/a/top.qcow2
compare_human images/a/top.qcow2
compare_all images/c/side.qcow2
compare_human images/c/side.qcow2
compare_all "$T/images/a/top.qcow2"
compare_human "$T/images/a/top.qcow2"

mkdir elsewhere
cd elsewhere || exit
compare_all ../images/a/top.qcow2
compare_human ../images/a/top.qcow2
cd ../images/a || exit
compare_all top.qcow2
compare_human top.qcow2
compare_all b/mid.qcow2
compare_human b/mid.qcow2
ln -s top.qcow2 link.qcow2
compare_all link.qcow2
compare_human link.qcow2
cd "$T" || exit

# A symlink elsewhere: qemu resolves b/mid.qcow2 against the link's folder,
# where it does not exist, so both refuse.
ln -s images/a/top.qcow2 far-link.qcow2
compare_map_fails far-link.qcow2
grep -qF "b/mid.qcow2" ours.err || fail "error does not name b/mid.qcow2: $(cat ours.err)"
pass
finish
