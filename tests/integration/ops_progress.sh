#!/bin/bash
# --progress=json on every long-running tool: each stderr line that starts
# with { is a JSON object {"done", "total", "phase"}; within a phase the
# total stays and done never goes back; the last line of each phase has
# done == total. -p draws something; an unknown style is refused.
. "$(dirname "$0")/lib.sh"

BIN=$IMGMEND_BIN_DIR
POKE="$IMGMEND_TEST_TOOLS/../tools/poke"

# A chain big enough for a few progress lines, and a leaking copy.
qemu-img create -q -f qcow2 base.qcow2 256M
qemu-io -c 'write -P 1 0 16M' -c 'write -P 4 128M 8M' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 256M
qemu-io -c 'write -P 2 8M 16M' -c 'write -P 3 200M 4M' top.qcow2 > /dev/null
cp top.qcow2 leak.qcow2
"$POKE" leak.qcow2 l2 0xc800000 0 || fail "poke leak.qcow2"
qemu-img check leak.qcow2 > /dev/null 2>&1 && fail "leak.qcow2 checks clean"
pass

# check_progress WHAT ERRFILE: the JSON progress lines of ERRFILE are well
# formed and consistent; prints the phases seen.
check_progress() {
    local what=$1 err=$2 n=0 line
    grep '^{' "$err" > progress.lines || fail "$what: no JSON progress line on stderr: $(head -5 "$err")"
    while IFS= read -r line; do
        n=$((n + 1))
        printf '%s\n' "$line" | jq -e '(.done | type) == "number" and (.total | type) == "number"
            and (.phase | type) == "string" and (.phase | length) > 0 and .done <= .total' > /dev/null 2>&1 ||
            fail "$what: progress line $n is not {done <= total, phase}: $line"
    done < progress.lines
    jq -r '[.phase, .done, .total] | @tsv' progress.lines > progress.tsv || fail "$what: jq"
    awk -F'\t' -v what="$what" '
        { if ($1 in total) {
              if ($3 != total[$1]) { print what ": phase " $1 " total changed from " total[$1] " to " $3; bad = 1 }
              if ($2 + 0 < done[$1] + 0) { print what ": phase " $1 " went back from " done[$1] " to " $2; bad = 1 }
          }
          total[$1] = $3; done[$1] = $2 }
        END { for (p in total) if (done[p] != total[p]) {
                  print what ": last line of phase " p " has done " done[p] " != total " total[p]; bad = 1 }
              exit bad }' progress.tsv > progress.bad || fail "$(cat progress.bad)"
    pass
    PHASES=$(cut -f1 progress.tsv | sort -u | tr '\n' ' ')
}

# imgmend-check: same stdout as without progress, phases tables and refcounts.
"$BIN/imgmend-check" --output=json top.qcow2 > plain.out || fail "imgmend-check top.qcow2"
"$BIN/imgmend-check" --progress=json --output=json top.qcow2 > check.out 2> check.err ||
    fail "imgmend-check --progress=json: $(cat check.err)"
cmp -s plain.out check.out || fail "imgmend-check --progress=json changed stdout"
check_progress imgmend-check check.err
assert_eq "refcounts tables " "$PHASES" "imgmend-check progress phases"
declare -A TOOL_PHASES=([imgmend-check]=$PHASES)
# One phase after the other, also on an image without L2 tables (no walk).
assert_eq "tables refcounts " "$(cut -f1 progress.tsv | uniq | tr '\n' ' ')" "imgmend-check phase order"
qemu-img create -q -f qcow2 empty.qcow2 64M
"$BIN/imgmend-check" --progress=json empty.qcow2 > /dev/null 2> empty.err || fail "imgmend-check empty.qcow2: $(cat empty.err)"
check_progress "imgmend-check (empty image)" empty.err
assert_eq "tables refcounts " "$(cut -f1 progress.tsv | uniq | tr '\n' ' ')" "imgmend-check phase order on an empty image"

# imgmend-repair -r leaks on the leaking copy: repairs it all the same.
"$BIN/imgmend-repair" -r leaks --progress=json leak.qcow2 > repair.out 2> repair.err ||
    fail "imgmend-repair -r leaks --progress=json: $(cat repair.err)"
check_progress imgmend-repair repair.err
TOOL_PHASES[imgmend-repair]=$PHASES
qemu-img check leak.qcow2 > /dev/null || fail "leak.qcow2 not clean after imgmend-repair --progress=json"
pass

# imgmend-map: same extents.
"$BIN/imgmend-map" --output=json top.qcow2 > plain.out || fail "imgmend-map top.qcow2"
"$BIN/imgmend-map" --progress=json --output=json top.qcow2 > map.out 2> map.err ||
    fail "imgmend-map --progress=json: $(cat map.err)"
cmp -s plain.out map.out || fail "imgmend-map --progress=json changed stdout"
check_progress imgmend-map map.err
TOOL_PHASES[imgmend-map]=$PHASES

# imgmend-rebase: flatten a copy; the guest view stays.
cp top.qcow2 flat.qcow2
"$BIN/imgmend-rebase" --progress=json -b "" flat.qcow2 > rebase.out 2> rebase.err ||
    fail "imgmend-rebase --progress=json: $(cat rebase.err)"
check_progress imgmend-rebase rebase.err
TOOL_PHASES[imgmend-rebase]=$PHASES
qemu-img compare -q top.qcow2 flat.qcow2 || fail "flattening with --progress=json changed the guest view"
pass

# The documentation names what the tools print. Findings and errors share
# stderr with the JSON lines, so the man pages (--progress entry) and the
# README tell UIs to read the lines that start with {; each page names its
# tool's phases, and the README's example line is a real check line.
# progress_entry PAGE: the --progress entry of a man page's source.
progress_entry() { awk 'index($0, "*-p*, *--progress*") == 1 { on = 1; next } !/^\t/ { on = 0 } on' "$1"; }
for tool in imgmend-check imgmend-repair imgmend-map imgmend-rebase; do
    entry=$(progress_entry "$IMGMEND_SOURCE_DIR/man/$tool.1.scd")
    [ -n "$entry" ] || fail "no --progress entry in man/$tool.1.scd"
    for phase in ${TOOL_PHASES[$tool]}; do
        grep -qw -- "\*$phase\*" <<< "$entry" || fail "man/$tool.1.scd: --progress does not name the phase *$phase*: $entry"
        pass
    done
    tr '\n' ' ' <<< "$entry" | grep -q 'lines that start with "{"' ||
        fail "man/$tool.1.scd: --progress does not say to read the lines that start with \"{\": $entry"
    pass
done
README=$(awk '/^### Progress for scripts and UIs/ { on = 1; next } /^#/ { on = 0 } on' "$IMGMEND_SOURCE_DIR/README.md")
[ -n "$README" ] || fail "README.md has no section 'Progress for scripts and UIs'"
tr '\n' ' ' <<< "$README" | grep -qE 'lines that start with `\{`' ||
    fail "README.md does not tell UIs to read the lines that start with {"
pass
example=$(grep -E '^ +\{' <<< "$README" | sed -E 's/^ +//')
[ -n "$example" ] || fail "README.md: no example progress line"
phase=$(jq -r .phase <<< "$example") || fail "README.md: the example line is not JSON: $example"
grep -qw -- "$phase" <<< "${TOOL_PHASES[imgmend-check]}" ||
    fail "README.md: the example phase '$phase' is not one imgmend-check prints (${TOOL_PHASES[imgmend-check]})"
pass
for tool in imgmend-check imgmend-repair imgmend-map imgmend-rebase; do
    for phase in ${TOOL_PHASES[$tool]}; do
        grep -q -- "\`$phase\`" <<< "$README" || fail "README.md: the phase \`$phase\` of $tool is not named"
        pass
    done
done

# -p: a bar on stderr for every tool, and the work still done.
expect_bar() { # WHAT ERRFILE
    grep -q '%' "$2" || fail "$1 drew no progress bar on stderr (stderr: $(head -c 300 "$2"))"
    grep -qE '(^|[^0-9])100(\.0+)?(/100)?%' "$2" || fail "$1 never showed 100%: $(od -c "$2" | head -3)"
    pass
}
rc=0
"$BIN/imgmend-check" -p top.qcow2 > /dev/null 2> p-check.err || rc=$?
assert_eq 0 "$rc" "imgmend-check -p exit status"
"$BIN/imgmend-map" -p top.qcow2 > /dev/null 2> p-map.err || fail "imgmend-map -p: $(cat p-map.err)"
cp top.qcow2 leak-p.qcow2
"$POKE" leak-p.qcow2 l2 0xc800000 0 || fail "poke leak-p.qcow2"
"$BIN/imgmend-repair" -r leaks -p leak-p.qcow2 > /dev/null 2> p-repair.err || fail "imgmend-repair -p: $(cat p-repair.err)"
cp top.qcow2 flat-p.qcow2
"$BIN/imgmend-rebase" -p -b "" flat-p.qcow2 > /dev/null 2> p-rebase.err || fail "imgmend-rebase -p: $(cat p-rebase.err)"
qemu-img compare -q top.qcow2 flat-p.qcow2 || fail "flattening with -p changed the guest view"
# The bar style spelled out, for comparison (it works when -p does not).
"$BIN/imgmend-map" --progress=bar top.qcow2 > /dev/null 2> bar-map.err || fail "imgmend-map --progress=bar"
expect_bar "imgmend-map --progress=bar" bar-map.err
expect_bar imgmend-check p-check.err
expect_bar imgmend-map p-map.err
expect_bar imgmend-repair p-repair.err
expect_bar imgmend-rebase p-rebase.err

# --progress without a value is the bar ([=bar|json] in the man pages), also
# right before the image name.
"$BIN/imgmend-map" --progress top.qcow2 > /dev/null 2> bare-map.err ||
    fail "imgmend-map --progress IMAGE: $(cat bare-map.err)"
expect_bar "imgmend-map --progress" bare-map.err

# An unknown style: exit 1, the tool named, nothing done.
cp top.qcow2 untouched.qcow2
cp top.qcow2 untouched-leak.qcow2
"$POKE" untouched-leak.qcow2 l2 0xc800000 0 || fail "poke untouched-leak.qcow2"
cp untouched-leak.qcow2 untouched-leak.orig
for cmd in "imgmend-check untouched.qcow2" "imgmend-map untouched.qcow2" \
           "imgmend-repair -r leaks untouched-leak.qcow2" "imgmend-rebase -b base.qcow2 -F qcow2 untouched.qcow2"; do
    set -- $cmd
    tool=$1
    shift
    rc=0
    "$BIN/$tool" --progress=xyz "$@" > bad.out 2> bad.err || rc=$?
    assert_eq 1 "$rc" "$tool --progress=xyz exit status"
    grep -q "^$tool: .*xyz" bad.err || fail "$tool --progress=xyz: message does not name the tool and the style: $(cat bad.err)"
    [ ! -s bad.out ] || fail "$tool --progress=xyz printed on stdout: $(cat bad.out)"
    pass
done
cmp -s top.qcow2 untouched.qcow2 || fail "a refused --progress=xyz changed untouched.qcow2"
cmp -s untouched-leak.orig untouched-leak.qcow2 || fail "a refused --progress=xyz repaired untouched-leak.qcow2"
pass
finish
