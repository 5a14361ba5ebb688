#!/bin/bash
# imgmend batch over a folder tree: one JSON line per qcow2 image with the
# verdict and qemu-img check's counts, images in use skipped, raw files and
# symbolic links left alone, the worst verdict as exit code; --repair-leaks
# touches the leaking image only; --jobs does not change the answer.
. "$(dirname "$0")/lib.sh"

BIN=$IMGMEND_BIN_DIR
POKE="$IMGMEND_TEST_TOOLS/../tools/poke"

# The qemu-nbd server holding the in-use image is stopped when the script
# ends, pass or fail (at_exit in lib.sh when it has it, else our own trap
# in front of lib.sh's).
stop_nbd() {
    if [ -s "$T/nbd.pid" ]; then
        kill "$(cat "$T/nbd.pid")" 2> /dev/null || true
        rm -f "$T/nbd.pid"
    fi
}
if declare -F at_exit > /dev/null; then
    at_exit stop_nbd
else
    LIB_TRAP=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT\$/\\1/")
    # shellcheck disable=SC2154 # rc_ is set by the trap itself
    trap 'rc_=$?; stop_nbd; (exit $rc_); '"$LIB_TRAP" EXIT
fi

# mkimage PATH: 4 MiB with data at 0, 1M and 2M (three data clusters).
mkimage() {
    qemu-img create -q -f qcow2 "$1" 4M
    qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 1M 64k' -c 'write -P 3 2M 128k' "$1" > /dev/null
}
mkdir -p tree/sub/deep outside/inner
mkimage tree/clean.qcow2
mkimage tree/sub/leak.qcow2
"$POKE" tree/sub/leak.qcow2 l2 0x100000 0 || fail "poke leak"
mkimage tree/sub/deep/corrupt.qcow2
H=$("$POKE" tree/sub/deep/corrupt.qcow2 get host 0x200000) || fail "poke get host"
"$POKE" tree/sub/deep/corrupt.qcow2 refcount $((H / 65536)) 0 || fail "poke corrupt"
mkimage tree/inuse.qcow2
qemu-img create -q -f raw tree/disk.raw 1M
printf 'not an image\n' > tree/fake.qcow2
# Outside the tree, damaged, so that following a link would show.
mkimage outside/out.qcow2
"$POKE" outside/out.qcow2 l2 0 0 || fail "poke outside"
mkimage outside/inner/inner.qcow2
"$POKE" outside/inner/inner.qcow2 l2 0 0 || fail "poke outside inner"
ln -s "$T/outside/out.qcow2" tree/link.qcow2
ln -s ../outside/inner tree/sub/linkdir

# The oracle on every image, before anything holds one.
# qcount IMAGE FIELD: qemu-img check's count (absent means 0).
qcount() {
    local j
    j=$(qemu-img check --output=json "$1" 2> /dev/null) || true # 2 and 3 are answers too
    jq -e ".\"$2\" // 0" <<< "$j" || fail "qemu-img check --output=json $1: $j"
}
declare -A QC QL
for img in clean sub/leak sub/deep/corrupt inuse; do
    QC[$img]=$(qcount "tree/$img.qcow2" corruptions)
    QL[$img]=$(qcount "tree/$img.qcow2" leaks)
done
assert_eq "0 0" "${QC[clean]} ${QL[clean]}" "qemu-img check of clean.qcow2 (corruptions leaks)"
assert_eq "0 1" "${QC[sub/leak]} ${QL[sub/leak]}" "qemu-img check of leak.qcow2"
[ "${QC[sub/deep/corrupt]}" -ge 1 ] || fail "qemu-img check finds corrupt.qcow2 clean"
pass

# Hold inuse.qcow2 as a running VM would.
qemu-nbd --fork -t -k "$T/nbd.sock" --pid-file="$T/nbd.pid" -f qcow2 tree/inuse.qcow2 ||
    fail "qemu-nbd could not serve inuse.qcow2"
for i in $(seq 100); do
    if ! qemu-img info tree/inuse.qcow2 > /dev/null 2> lock.err && grep -q 'lock' lock.err; then break; fi
    [ "$i" -lt 100 ] || fail "qemu-nbd never locked inuse.qcow2"
    sleep 0.1
done
pass

# batch_jsonl OUT [options]: runs imgmend batch --output=jsonl on tree,
# leaves the status in RC.
batch_jsonl() {
    local out=$1
    shift
    RC=0
    "$BIN/imgmend" batch --output=jsonl "$@" tree > "$out" 2> "$out.err" || RC=$?
}

batch_jsonl run.jsonl --jobs 2
assert_eq 2 "$RC" "exit status (worst verdict: corrupt)"
# Every line is one JSON object.
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" | jq -e 'type == "object"' > /dev/null 2>&1 || fail "line $n is not a JSON object: $line"
done < run.jsonl
pass
grep -v '"summary"' run.jsonl > images.jsonl || true
assert_eq "tree/clean.qcow2 tree/inuse.qcow2 tree/sub/deep/corrupt.qcow2 tree/sub/leak.qcow2" \
    "$(jq -r .path images.jsonl | sort | tr '\n' ' ' | sed 's/ $//')" "images found (no raw file, no fake, no link followed)"
grep -q outside run.jsonl && fail "batch followed a symbolic link out of the tree: $(grep outside run.jsonl)"
pass

# line IMAGE: the JSON line of tree/IMAGE.qcow2.
line() { jq -c --arg p "tree/$1.qcow2" 'select(.path == $p)' "${2:-images.jsonl}"; }
for img in clean sub/leak sub/deep/corrupt inuse; do
    l=$(line "$img")
    [ -n "$l" ] || fail "no line for $img"
    printf '%s\n' "$l" | jq -e '(.duration | type) == "number" and .duration >= 0 and .duration < 60' > /dev/null ||
        fail "$img: no sane duration: $l"
    for k in corruptions leaks findings; do
        printf '%s\n' "$l" | jq -e --arg k "$k" '(.[$k] | type) == "number"' > /dev/null || fail "$img: no $k: $l"
    done
    pass
done
expect_line() { # IMAGE VERDICT
    local l
    l=$(line "$1")
    assert_eq "$2" "$(jq -r .verdict <<< "$l")" "verdict of $1"
    if [ "$2" != in-use ]; then
        assert_eq "${QC[$1]}" "$(jq .corruptions <<< "$l")" "corruptions of $1 (qemu-img check)"
        assert_eq "${QL[$1]}" "$(jq .leaks <<< "$l")" "leaks of $1 (qemu-img check)"
    fi
    if [ "$2" = clean ]; then
        assert_eq 0 "$(jq .findings <<< "$l")" "findings of $1"
    elif [ "$2" != in-use ]; then
        [ "$(jq .findings <<< "$l")" -ge 1 ] || fail "$1 is $2 with no finding: $l"
        pass
    fi
}
expect_line clean clean
expect_line sub/leak leaks
expect_line sub/deep/corrupt corrupt
expect_line inuse in-use
jq -e '.message | type == "string" and length > 0' <<< "$(line inuse)" > /dev/null ||
    fail "in-use line has no message: $(line inuse)"
pass

# The summary: last line, counts of each verdict, the exit status.
SUMMARY=$(tail -n 1 run.jsonl)
jq -e '.summary' <<< "$SUMMARY" > /dev/null || fail "the last line is not the summary: $SUMMARY"
assert_eq "4 1 1 1 1 2" "$(jq -r '.summary | "\(.images) \(.clean) \(.leaks) \(.corrupt) \(."in-use") \(.exit)"' <<< "$SUMMARY")" \
    "summary (images clean leaks corrupt in-use exit)"
assert_eq 1 "$(grep -c '"summary"' run.jsonl)" "summary lines"

# --jobs 1 and --jobs 4: the same lines, but for the durations.
batch_jsonl jobs1.jsonl --jobs 1
assert_eq 2 "$RC" "exit status with --jobs 1"
batch_jsonl jobs4.jsonl -j 4
assert_eq 2 "$RC" "exit status with --jobs 4"
jq -cS 'del(.duration)' jobs1.jsonl | sort > jobs1.sorted
jq -cS 'del(.duration)' jobs4.jsonl | sort > jobs4.sorted
jq -cS 'del(.duration)' run.jsonl | sort > run.sorted
diff -u jobs1.sorted jobs4.sorted >&2 || fail "--jobs 1 and --jobs 4 differ"
diff -u jobs1.sorted run.sorted >&2 || fail "--jobs 1 and --jobs 2 differ"
assert_eq 5 "$(wc -l < jobs4.sorted)" "lines with --jobs 4"

# Human output: one line per image and the summary, the same exit status.
RC=0
"$BIN/imgmend-batch" tree > human.out 2> human.err || RC=$?
assert_eq 2 "$RC" "exit status of the human output"
grep -q '^tree/sub/leak.qcow2: leaks (0 corruptions, 1 leaks)$' human.out || fail "human line of leak.qcow2: $(cat human.out)"
grep -q '^4 images checked' human.out || fail "human summary: $(cat human.out)"
pass

# Exit codes of smaller trees: clean only 0, with the leak 3, a missing
# path 1 and named.
RC=0; "$BIN/imgmend-batch" tree/clean.qcow2 > /dev/null 2>&1 || RC=$?
assert_eq 0 "$RC" "exit status for a clean image"
RC=0; "$BIN/imgmend-batch" tree/clean.qcow2 tree/sub/leak.qcow2 tree/inuse.qcow2 > /dev/null 2>&1 || RC=$?
assert_eq 3 "$RC" "exit status for clean + leaks + in-use"
RC=0; "$BIN/imgmend-batch" tree/clean.qcow2 tree/no-such-dir > /dev/null 2> missing.err || RC=$?
assert_eq 1 "$RC" "exit status with a missing path"
grep -q 'no-such-dir' missing.err || fail "a missing path is not named: $(cat missing.err)"
pass

# A file named on the command line must be a qcow2 image: a text file or a
# raw image is an error (one line naming it, exit 1), the other paths are
# still checked. A folder without any qcow2 image is only a warning.
for f in tree/fake.qcow2 tree/disk.raw; do
    RC=0; "$BIN/imgmend-batch" "$f" tree/clean.qcow2 > named.out 2> named.err || RC=$?
    assert_eq 1 "$RC" "exit status for $f named on the command line"
    assert_eq "imgmend-batch: error: $f: not a qcow2 image" "$(cat named.err)" "stderr for $f named on the command line"
    grep -q '^tree/clean.qcow2: clean ' named.out || fail "the image named after $f was not checked: $(cat named.out)"
    pass
done
mkdir -p empty/sub
cp tree/disk.raw empty/sub/
RC=0; "$BIN/imgmend-batch" empty > empty.out 2> empty.err || RC=$?
assert_eq 0 "$RC" "exit status for a folder without images"
assert_eq "imgmend-batch: warning: empty: no qcow2 image in this folder" "$(cat empty.err)" "stderr for a folder without images"
assert_eq "0 images checked" "$(cat empty.out)" "stdout for a folder without images"
RC=0; "$BIN/imgmend-batch" --output=jsonl empty tree/clean.qcow2 > empty.jsonl 2> empty.err || RC=$?
assert_eq 0 "$RC" "exit status for an empty folder and a clean image"
grep -q 'warning: empty: ' empty.err || fail "no warning for the empty folder next to an image: $(cat empty.err)"
pass

# Symbolic links given on the command line are followed (as find -H), to an
# image and to a folder, under the name given; links inside are not. The
# man page says so.
ln -s tree/clean.qcow2 clean-link.qcow2
ln -s tree/sub sub-link
RC=0; "$BIN/imgmend-batch" clean-link.qcow2 sub-link > links.out 2> links.err || RC=$?
assert_eq 2 "$RC" "exit status for links to clean.qcow2 and to tree/sub (corrupt.qcow2)"
assert_eq "clean-link.qcow2: clean|sub-link/deep/corrupt.qcow2: corrupt|sub-link/leak.qcow2: leaks" \
    "$(cut -d' ' -f1-2 links.out | grep '^[cs]' | sort | tr '\n' '|' | sed 's/|$//')" "images reached through command-line links"
PAGE="$IMGMEND_SOURCE_DIR/man/imgmend-batch.1.scd"
grep -q 'find -H' "$PAGE" || fail "imgmend-batch(1) does not say that command-line links are followed (find -H)"
grep -qi 'links are never followed' "$PAGE" && ! grep -qi 'links met inside a folder are never' "$PAGE" &&
    fail "imgmend-batch(1) says links are never followed"
pass

# Lines come in the sorted order of the paths, in both outputs, whatever
# the jobs' timing: the first image is slow (its leak is repaired, with
# flushes), the others are empty and quick.
mkdir order
qemu-img create -q -f qcow2 order/a-leak.qcow2 4M
qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 1M 64k' order/a-leak.qcow2 > /dev/null
"$POKE" order/a-leak.qcow2 l2 0x100000 0 || fail "poke order/a-leak.qcow2"
cp order/a-leak.qcow2 a-leak.orig
for n in b c d e f g h; do qemu-img create -q -f qcow2 "order/$n.qcow2" 1M; done
SORTED=$(printf '%s ' order/*.qcow2)
for out in human jsonl; do
    for jobs in 2 4; do
        cp a-leak.orig order/a-leak.qcow2
        "$BIN/imgmend-batch" --output=$out -j $jobs --repair-leaks order > order.$out 2> order.err ||
            fail "imgmend-batch --output=$out -j $jobs order: $(cat order.err)"
        if [ $out = human ]; then
            paths=$(grep -v 'images checked' order.$out | sed 's/: .*//' | tr '\n' ' ')
        else
            paths=$(grep -v '"summary"' order.$out | jq -r .path | tr '\n' ' ')
        fi
        assert_eq "$SORTED" "$paths" "order of the --output=$out -j $jobs lines"
    done
done
grep -q '^order/a-leak.qcow2: clean .*1 leaks repaired' order.human || fail "a-leak.qcow2 was not repaired: $(cat order.human)"
pass

# --jobs outside 1..1024 is refused before anything is checked (-1 once
# wrapped to a huge unsigned number, 0 was taken as 1).
for j in -1 0 1025 4294967297; do
    expect_fail "--jobs must be between 1 and 1024" "$BIN/imgmend-batch" -j "$j" tree/clean.qcow2
    assert_eq 1 "$(grep -c . fail.err)" "lines on stderr for -j $j"
    [ ! -s fail.out ] || fail "-j $j checked something: $(cat fail.out)"
done
RC=0; "$BIN/imgmend-batch" -j 1024 tree/clean.qcow2 > /dev/null 2>&1 || RC=$?
assert_eq 0 "$RC" "exit status with -j 1024"

# --repair-leaks: only the leaking image changes, and then checks clean.
mkdir keep
cp tree/clean.qcow2 keep/clean.qcow2.before
cp tree/inuse.qcow2 keep/inuse.qcow2.before
cp tree/sub/deep/corrupt.qcow2 keep/corrupt.qcow2.before
cp tree/sub/leak.qcow2 keep/leak.qcow2.before
cp outside/out.qcow2 out.before
cp outside/inner/inner.qcow2 inner.before
batch_jsonl repair.jsonl --repair-leaks
assert_eq 2 "$RC" "exit status with --repair-leaks (corrupt.qcow2 stays)"
grep -v '"summary"' repair.jsonl > repair-images.jsonl || true
assert_eq clean "$(line sub/leak repair-images.jsonl | jq -r .verdict)" "verdict of leak.qcow2 after --repair-leaks"
assert_eq 1 "$(line sub/leak repair-images.jsonl | jq '."leaks-repaired"')" "leaks-repaired of leak.qcow2"
assert_eq 0 "$(line sub/leak repair-images.jsonl | jq '.leaks')" "leaks of leak.qcow2 after the repair"
assert_eq in-use "$(line inuse repair-images.jsonl | jq -r .verdict)" "verdict of inuse.qcow2 with --repair-leaks"
assert_eq corrupt "$(line sub/deep/corrupt repair-images.jsonl | jq -r .verdict)" "verdict of corrupt.qcow2 with --repair-leaks"
for l in clean inuse corrupt; do
    case $l in
    clean) f=tree/clean.qcow2 ;;
    inuse) f=tree/inuse.qcow2 ;;
    corrupt) f=tree/sub/deep/corrupt.qcow2 ;;
    esac
    cmp -s "keep/$l.qcow2.before" "$f" || fail "--repair-leaks changed $f"
    pass
done
cmp -s out.before outside/out.qcow2 || fail "--repair-leaks changed outside/out.qcow2 through a link"
cmp -s inner.before outside/inner/inner.qcow2 || fail "--repair-leaks changed outside/inner/inner.qcow2 through a link"
cmp -s keep/leak.qcow2.before tree/sub/leak.qcow2 && fail "--repair-leaks did not change leak.qcow2"
pass
qemu-img check tree/sub/leak.qcow2 > leak.check 2>&1 || fail "leak.qcow2 is not clean after --repair-leaks: $(cat leak.check)"
pass
qemu-img compare -q keep/leak.qcow2.before tree/sub/leak.qcow2 || fail "--repair-leaks changed the guest view of leak.qcow2"
pass

stop_nbd
finish
