#!/bin/bash
# Output contract: the human summary on stdout equals qemu-img check's
# stdout byte for byte, the JSON text is qemu's plus "findings", -q prints
# nothing on stdout, exit codes for raw, missing and non-qcow2 files, and
# the refcount-beyond-end warning (behaviour doc 2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"

# compare_json_text IMAGE: our JSON without "findings" is qemu's, byte for byte.
compare_json_text() {
    qemu-img check --output=json "$1" > qemu-text.json 2>/dev/null || true
    { "$CHECK" --output=json "$1" 2>/dev/null || true; } |
        sed -n '/^    "findings": \[/q;p' | sed '$ s/,$//' > ours-text.json
    echo '}' >> ours-text.json
    if ! diff -u qemu-text.json ours-text.json >&2; then fail "JSON text differs for $1"; fi
    pass
}

mkbase base.qcow2

cp base.qcow2 leak.qcow2
poke leak.qcow2 l2 0x100000 0

cp base.qcow2 both.qcow2
poke both.qcow2 l2 0x100000 0
poke both.qcow2 refcount 5 0

cp base.qcow2 checkerr.qcow2
poke checkerr.qcow2 reftable 0 --or 0x200

qemu-img create -q -f qcow2 comp.qcow2 4M
qemu-io -c 'write -c -P 0x33 0 64k' -c 'write -P 0x11 1M 64k' -c 'write -P 0x12 2M 64k' comp.qcow2 >/dev/null
poke comp.qcow2 l2 0x200000 --and-not 0x8000000000000000
N=$(poke comp.qcow2 get clusters)
truncate -s +65536 comp.qcow2
poke comp.qcow2 refcount "$N" 1

qemu-img create -q -f qcow2 empty.qcow2 4M
cp empty.qcow2 empty-leak.qcow2
truncate -s +65536 empty-leak.qcow2
poke empty-leak.qcow2 refcount "$(( $(stat -c %s empty-leak.qcow2) / 65536 - 1 ))" 1

for img in base leak both checkerr comp empty empty-leak; do
    compare_human_check $img.qcow2
    compare_json_text $img.qcow2
    compare_messages $img.qcow2
done

# -q: nothing on stdout, in either output mode; the exit code is kept.
for img in base leak both checkerr; do
    qrc=0
    qemu-img check -q "$img.qcow2" > /dev/null 2>&1 || qrc=$?
    for mode in human json; do
        orc=0
        "$CHECK" -q --output=$mode "$img.qcow2" > quiet.out 2> quiet.err || orc=$?
        assert_eq "$qrc" "$orc" "exit code of -q --output=$mode on $img"
        [ ! -s quiet.out ] || fail "-q --output=$mode printed on stdout for $img: $(head -3 quiet.out)"
        pass
    done
done
# ... but the findings still go to stderr.
"$CHECK" -q leak.qcow2 > /dev/null 2> quiet.err || true
grep -q '^Leaked cluster 6 refcount=1 reference=0' quiet.err || fail "-q lost the finding on stderr"
pass

# A raw image has no check: exit 63, probed or with -f raw.
truncate -s 1M disk.raw
for args in "" "-f raw"; do
    qrc=0 orc=0
    qemu-img check $args disk.raw > /dev/null 2>&1 || qrc=$?
    "$CHECK" $args disk.raw > raw.out 2> raw.err || orc=$?
    assert_eq 63 "$qrc" "qemu-img exit code on raw ($args)"
    assert_eq 63 "$orc" "exit code on raw ($args)"
    grep -q 'This image format does not support checks' raw.err || fail "raw message: $(cat raw.err)"
    pass
done

# A missing file, and -f qcow2 on a file that is not qcow2: exit 1.
orc=0
"$CHECK" missing.qcow2 > /dev/null 2>&1 || orc=$?
assert_eq 1 "$orc" "exit code on a missing file"
echo hello > text.qcow2
orc=0
"$CHECK" -f qcow2 text.qcow2 > /dev/null 2>&1 || orc=$?
assert_eq 1 "$orc" "exit code on -f qcow2 of a text file"

# A refcount set for a cluster past the end of the file: qemu ignores it;
# we warn, exit code unchanged.
cp base.qcow2 beyondrc.qcow2
poke beyondrc.qcow2 refcount 20 1
compare_full beyondrc.qcow2
assert_eq 0 "$ORC" "exit code with a refcount past the end"
expect_warning beyondrc.qcow2 refcount-beyond-end
expect_located beyondrc.qcow2 refcount-beyond-end host-offset="$(stat -c %s beyondrc.qcow2)" \
    message="1 clusters beyond the end of the file have non-zero refcounts"
compare_human_check beyondrc.qcow2
cp beyondrc.qcow2 beyondrc-leak.qcow2
poke beyondrc-leak.qcow2 l2 0x100000 0
compare_full beyondrc-leak.qcow2
assert_eq 3 "$ORC" "exit code with a refcount past the end and a leak"
expect_warning beyondrc-leak.qcow2 refcount-beyond-end
finish
