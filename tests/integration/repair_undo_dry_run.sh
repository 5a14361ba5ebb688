#!/bin/bash
# Undo files and dry runs. For several kinds of repair (a leak, a refcount
# raised in place, COPIED fixes, a header bit, rebuilds inside the file and
# growing it): --undo-file then --undo gives back the damaged file byte for
# byte (size included); --dry-run changes nothing and lists every write,
# and a real repair changes no byte outside the listed writes and discards.
# imgmend-check -r runs the same repair.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_check.sh"
. "$(dirname "$0")/lib_repair.sh"

mkbase base.qcow2
D=$(cluster_of "$(poke base.qcow2 get host 0)")
cp base.qcow2 snap.qcow2
qemu-img snapshot -c s1 snap.qcow2

cp base.qcow2 leak.qcow2;     poke leak.qcow2 refcount "$D" 2
cp snap.qcow2 raise.qcow2;    poke raise.qcow2 refcount "$D" 1
cp base.qcow2 copied.qcow2;   poke copied.qcow2 l1 0 --and-not 0x8000000000000000
cp leak.qcow2 dirty.qcow2;    poke dirty.qcow2 header incompatible_features --or 1
cp base.qcow2 rebuild.qcow2;  poke rebuild.qcow2 refcount "$D" 0          # grows the file
cp base.qcow2 rt.qcow2;       poke rt.qcow2 reftable 0 --or 1
qemu-img create -q -f qcow2 holes.qcow2 4M                               # rebuilds inside it
qemu-io -c 'write -P 0x11 0 1M' -c 'discard 256k 256k' holes.qcow2 >/dev/null
cp holes.qcow2 inside.qcow2;  poke inside.qcow2 refcount "$(cluster_of "$(poke holes.qcow2 get host 0)")" 0
CASES="leak raise copied dirty rebuild rt inside"

for name in $CASES; do
    # Dry run: nothing changes; the listing names every write.
    cp $name.qcow2 dry.qcow2
    rc=0
    "$REPAIR" -r all --dry-run dry.qcow2 > dry.txt 2> dry.err || rc=$?
    expect_unchanged $name.qcow2 dry.qcow2 "$name --dry-run"
    assert_eq 2 "$rc" "$name --dry-run exit code (the damage is still there)"
    n=$(sed -n 's/^Planned changes (\([0-9]*\) writes):$/\1/p' dry.txt)
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "$name --dry-run: no 'Planned changes (N writes)' line: $(head -3 dry.txt)"
    pass
    assert_eq "$n" "$(grep -cE '^    write +0x[0-9a-f]+ \+[0-9]+  ' dry.txt)" "$name --dry-run: listed writes"
    # The JSON form lists the same steps.
    "$REPAIR" -r all --dry-run --output=json dry.qcow2 > dry.json 2>/dev/null || true
    expect_unchanged $name.qcow2 dry.qcow2 "$name --dry-run --output=json"
    assert_eq true "$(jq '.["dry-run"]' dry.json)" "$name: JSON dry-run member"
    assert_eq "$n" "$(jq '[.planned[] | select(.step == "write")] | length' dry.json)" "$name: JSON planned writes"

    # The real repair, with an undo file; no byte changes outside the plan.
    cp $name.qcow2 fixed.qcow2
    rm -f undo.bin
    our_repair all fixed.qcow2 --undo-file=undo.bin
    expect_rrc 0 "$name -r all --undo-file"
    expect_qemu_clean fixed.qcow2 "$name -r all --undo-file"
    [ -s undo.bin ] || fail "$name: no undo file"
    pass
    jq -r '.planned[] | select(.step != "flush") | "\(.offset) \(.length)"' dry.json > ranges.txt
    outside=$({ cmp -l $name.qcow2 fixed.qcow2 2>/dev/null || true; } | awk 'NR == FNR { lo[NR] = $1; hi[NR] = $1 + $2; n = NR; next }
        { off = $1 - 1; ok = 0; for (i = 1; i <= n; i++) if (off >= lo[i] && off < hi[i]) { ok = 1; break }
          if (!ok) { print off; exit } }' ranges.txt - || true)
    [ -z "$outside" ] || fail "$name: byte $outside changed outside the planned writes"
    pass
    if [ "$(stat -c %s $name.qcow2)" -lt "$(stat -c %s fixed.qcow2)" ]; then
        grow=yes
    else
        grow=no
    fi

    # Undo: byte for byte the damaged file again, size included.
    rc=0
    "$REPAIR" --undo undo.bin fixed.qcow2 > undo.txt 2>&1 || rc=$?
    assert_eq 0 "$rc" "$name --undo exit code ($(cat undo.txt))"
    cmp $name.qcow2 fixed.qcow2 >&2 || fail "$name: --undo did not restore the damaged file (the repair grew it: $grow)"
    pass

    # imgmend-check -r all does the same repair.
    cp $name.qcow2 viacheck.qcow2
    cp $name.qcow2 viarepair.qcow2
    "$CHECK" -r all viacheck.qcow2 > /dev/null 2>&1 || true
    "$REPAIR" -r all viarepair.qcow2 > /dev/null 2>&1 || true
    cmp viacheck.qcow2 viarepair.qcow2 >&2 || fail "$name: imgmend-check -r all and imgmend-repair -r all differ"
    pass
done

# The undo file must not exist yet: refused, nothing written.
cp leak.qcow2 exists.qcow2
echo keep > undo.bin
our_repair all exists.qcow2 --undo-file=undo.bin
[ "$RRC" = 1 ] || fail "-r all with an existing undo file exited $RRC"
pass
expect_unchanged leak.qcow2 exists.qcow2 "-r all with an existing undo file"
assert_eq keep "$(cat undo.bin)" "the existing undo file"

# --undo with something that is not an undo file: refused, nothing written.
cp leak.qcow2 notundo.qcow2
rc=0
"$REPAIR" --undo base.qcow2 notundo.qcow2 > /dev/null 2> notundo.err || rc=$?
assert_eq 1 "$rc" "--undo with a qcow2 image as the undo file"
grep -q 'not an imgmend undo file' notundo.err || fail "--undo error: $(cat notundo.err)"
pass
expect_unchanged leak.qcow2 notundo.qcow2 "--undo with a bad undo file"

# A truncated undo file: refused before anything is written.
cp rebuild.qcow2 trunc.qcow2
rm -f undo.bin
our_repair all trunc.qcow2 --undo-file=undo.bin
cp trunc.qcow2 trunc-fixed.qcow2
truncate -s $(( $(stat -c %s undo.bin) - 100 )) undo.bin
rc=0
"$REPAIR" --undo undo.bin trunc.qcow2 > /dev/null 2> trunc.err || rc=$?
assert_eq 1 "$rc" "--undo with a truncated undo file"
soft_eq unchanged "$(cmp -s trunc-fixed.qcow2 trunc.qcow2 && echo unchanged || echo changed)" \
    "--undo with a truncated undo file: the image (all records must be read before the first write)"

# An undo file only goes back onto the image its repair left: not onto
# another image, not onto that image once changed since; nothing written.
cp leak.qcow2 bound.qcow2
rm -f bound.undo
our_repair leaks bound.qcow2 --undo-file=bound.undo
expect_rrc 0 "-r leaks --undo-file (bound)"
# (copied.qcow2 differs from the repaired image in one L1 entry only.)
cp copied.qcow2 stranger.qcow2
printf 'some text\n' > stranger.txt
for target in stranger.qcow2 stranger.txt; do
    cp "$target" "$target.before"
    rc=0
    "$REPAIR" --undo bound.undo "$target" > /dev/null 2> stranger.err || rc=$?
    assert_eq 1 "$rc" "--undo onto $target"
    grep -q 'is not the image' stranger.err || fail "--undo onto $target: $(cat stranger.err)"
    cmp -s "$target.before" "$target" || fail "--undo onto $target changed it"
    pass
done
cp bound.qcow2 bound-fixed.qcow2
VSIZE=$(qemu-img info --output=json bound.qcow2 | jq '."virtual-size"')
qemu-io -c "write -P 0x77 $((VSIZE - 131072)) 128k" bound.qcow2 > /dev/null
cp bound.qcow2 bound-written.qcow2
rc=0
"$REPAIR" --undo bound.undo bound.qcow2 > /dev/null 2> changed.err || rc=$?
assert_eq 1 "$rc" "--undo onto the image written to since the repair"
grep -q 'changed since the repair' changed.err || fail "--undo onto a changed image: $(cat changed.err)"
cmp -s bound-written.qcow2 bound.qcow2 || fail "--undo onto a changed image changed it"
qemu-io -c "read -P 0x77 $((VSIZE - 131072)) 128k" bound.qcow2 > /dev/null || fail "the data written since the repair is gone"
pass
# The unchanged repaired image still takes it.
cp bound-fixed.qcow2 bound-again.qcow2
"$REPAIR" --undo bound.undo bound-again.qcow2 > /dev/null 2>&1 || fail "--undo onto the image the repair left"
cmp leak.qcow2 bound-again.qcow2 >&2 || fail "--undo did not give back the damaged image"
pass

# --undo takes no repair option: each refused, nothing written.
for opt in --dry-run "-r leaks" --undo-file=x.undo "-f qcow2" -U --progress=json -p --output=json; do
    cp bound-fixed.qcow2 opt.qcow2
    rc=0
    # shellcheck disable=SC2086 # opt may be two words
    "$REPAIR" $opt --undo bound.undo opt.qcow2 > /dev/null 2> opt.err || rc=$?
    assert_eq 1 "$rc" "--undo with $opt"
    grep -q 'cannot be combined with' opt.err || fail "--undo with $opt: $(cat opt.err)"
    cmp -s bound-fixed.qcow2 opt.qcow2 || fail "--undo with $opt changed the image"
    [ ! -e x.undo ] || fail "--undo with --undo-file created it"
    pass
done
finish
