#!/bin/bash
# -u only rewrites the backing reference: every byte of the overlay past
# its header cluster stays as it was, the other header extensions survive,
# and with a new backing of the same content the guest view is unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rebase.sh"

qemu-img create -q -f qcow2 base.qcow2 4M
qemu-io -c 'write -P 1 0 1M' -c 'write -P 3 3M 64k' base.qcow2 >/dev/null
mkdir moved
cp base.qcow2 moved/base.qcow2
qemu-img convert -O raw base.qcow2 moved/base.raw
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2 4M
qemu-io -c 'write -P 2 64k 64k' -c 'write -z 3M 4k' -c 'write -P 2 2M 4k' ov.qcow2 >/dev/null
qemu-img bitmap --add ov.qcow2 dirty0
qemu-io -c 'write -P 2 2M 4k' ov.qcow2 >/dev/null
guest_raw ov.qcow2 before.raw
cp ov.qcow2 original.qcow2
cs=$(info_field ov.qcow2 '.["cluster-size"]')

# same_past_header IMAGE: IMAGE equals original.qcow2 but for its first cluster.
same_past_header() {
    assert_eq "$(stat -c %s original.qcow2)" "$(stat -c %s "$1")" "file size of $1 after -u"
    cmp -i "$cs" original.qcow2 "$1" >&2 || fail "-u changed $1 past its header cluster"
    pass
}

# Onto the moved copy (qcow2), then onto the raw copy.
rebase -u -b moved/base.qcow2 -F qcow2 ov.qcow2
same_past_header ov.qcow2
expect_backing ov.qcow2 moved/base.qcow2 qcow2
expect_clean ov.qcow2
expect_guest before.raw ov.qcow2
qemu-img compare -q before.raw ov.qcow2 || fail "qemu-img compare before.raw ov.qcow2 after -u"
pass
assert_eq dirty0 "$(info_field ov.qcow2 '.["format-specific"].data.bitmaps[0].name')" "bitmap kept through -u"
rebase -u -b moved/base.raw -F raw ov.qcow2
same_past_header ov.qcow2
expect_backing ov.qcow2 moved/base.raw raw
expect_clean ov.qcow2
expect_guest before.raw ov.qcow2
assert_eq dirty0 "$(info_field ov.qcow2 '.["format-specific"].data.bitmaps[0].name')" "bitmap kept through a second -u"

# The file equals what qemu-img rebase -u writes (on an overlay without
# the bitmap: qemu stores persistent bitmaps anew when it closes an image).
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 plain.qcow2 4M
qemu-io -c 'write -P 2 64k 64k' plain.qcow2 >/dev/null
cp plain.qcow2 qemu.qcow2
qemu-img rebase -u -b moved/base.raw -F raw qemu.qcow2
cp plain.qcow2 ours.qcow2
rebase -u -b moved/base.raw -F raw ours.qcow2
cmp qemu.qcow2 ours.qcow2 >&2 || fail "-u wrote a header other than qemu-img's"
pass
qemu-img rebase -u -b "" qemu.qcow2
rebase -u -b "" ours.qcow2
cmp qemu.qcow2 ours.qcow2 >&2 || fail "-u -b '' wrote a header other than qemu-img's"
pass

# Unsafe flatten (-u -b ""), and -u onto a file that does not exist (qemu
# allows both; the second only warns).
cp original.qcow2 cut.qcow2
rebase -u -b "" cut.qcow2
same_past_header cut.qcow2
expect_backing cut.qcow2 "" ""
expect_clean cut.qcow2
cp original.qcow2 later.qcow2
rebase -u -b not-there-yet.qcow2 -F qcow2 later.qcow2
same_past_header later.qcow2
assert_eq not-there-yet.qcow2 "$(qemu-img info -U --output=json later.qcow2 2>/dev/null | jq -r '.["backing-filename"]')" \
    "backing name of a file that does not exist yet"

# A name of 1023 bytes (the limit) fits a 64k header cluster.
long=$(printf 'd%.0s' $(seq 1 1010)).qcow2
long=${long:0:1023}
cp original.qcow2 long.qcow2
rebase -u -b "$long" -F qcow2 long.qcow2
same_past_header long.qcow2
assert_eq "$long" "$(qemu-img info -U --output=json long.qcow2 2>/dev/null | jq -r '.["backing-filename"]')" \
    "a 1023-byte backing name"
finish
