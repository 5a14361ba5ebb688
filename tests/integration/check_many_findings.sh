#!/bin/bash
# More findings than are listed (100,000): an image of 512-byte clusters
# whose L1 table is cleared leaks every L2 table and data cluster. The
# counts and exit codes still equal qemu-img's, the rest are counted as
# not listed, and a repair frees every one of them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
REPAIR="$IMGMEND_BIN_DIR/imgmend-repair"
LISTED=100000

qemu-img create -q -f qcow2 -o cluster_size=512 many.qcow2 80M
qemu-io -c 'write -P 7 0 60M' many.qcow2 > /dev/null
python3 - many.qcow2 <<'PY'
import struct, sys
with open(sys.argv[1], 'r+b') as f:
    h = f.read(48)
    l1_size, l1_offset = struct.unpack('>IQ', h[36:48])
    f.seek(l1_offset)
    f.write(bytes(8 * l1_size))
PY
cp many.qcow2 many-damaged.qcow2

compare_check many.qcow2
LEAKS=$(jq .leaks qemu-check.json)
[ "$LEAKS" -gt "$LISTED" ] || fail "only $LEAKS leaks: the image does not exceed the listed limit"
pass
assert_eq "$LISTED" "$(jq '.findings | length' ours-check.json)" "findings listed"
assert_eq $((LEAKS - LISTED)) "$(jq '."findings-unlisted"' ours-check.json)" "findings-unlisted"
# The listed ones are the first, in cluster order, as qemu prints them.
qemu-img check many.qcow2 2> qemu.err > /dev/null || true
grep '^Leaked cluster' qemu.err > qemu-all.txt || true
sed -n "1,${LISTED}p" qemu-all.txt > qemu-first.txt
jq -r '.findings[].message' ours-check.json > ours-first.txt
cmp -s qemu-first.txt ours-first.txt || { diff qemu-first.txt ours-first.txt > first.diff || true; head -5 first.diff >&2; fail "the listed findings are not qemu's first $LISTED"; }
pass

# Human output: the list ends with the count of the rest; the summary is qemu's.
compare_human_check many.qcow2
"$CHECK" many.qcow2 > /dev/null 2> human.err || true
assert_eq "... and $((LEAKS - LISTED)) more findings, not listed (the counts below include them)" \
    "$(tail -n 1 human.err)" "last line of the findings"
assert_eq "$LISTED" "$(grep -c '^Leaked cluster' human.err)" "finding lines on stderr"

# Memory stays bounded: well under what 100,000 findings per 1 KiB would
# take (not measured under AddressSanitizer, whose shadow and quarantine
# memory swamp the figure).
if ! ldd "$CHECK" | grep -q libasan; then
    /usr/bin/time -o rss.txt -f '%M' "$CHECK" --output=json many.qcow2 > /dev/null 2>&1 || true
    RSS=$(tail -n 1 rss.txt)
    [ "$RSS" -lt 200000 ] || fail "imgmend-check used $RSS KiB"
    pass
fi

# Repair frees all of them, listed or not.
"$REPAIR" -r leaks --output=json many.qcow2 > repair.json 2> repair.err || fail "imgmend-repair -r leaks: $(tail -3 repair.err)"
assert_eq "$LEAKS" "$(jq '."leaks-fixed"' repair.json)" "leaks-fixed"
assert_eq "$((LEAKS - LISTED))" "$(jq '.before."findings-unlisted"' repair.json)" "findings-unlisted before the repair"
qemu-img check many.qcow2 > after.txt 2>&1 || fail "not clean after the repair: $(tail -5 after.txt)"
qemu-img compare -q many-damaged.qcow2 many.qcow2 || fail "the repair changed the guest view"
pass
finish
