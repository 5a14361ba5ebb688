# Helpers for imgmend-check scenarios; source after lib.sh.
CHECK="$IMGMEND_BIN_DIR/imgmend-check"
POKE="$IMGMEND_TEST_TOOLS/../tools/poke"
poke() { "$POKE" "$@"; }

# compare_check IMAGE: imgmend-check gives qemu-img check's exit code and
# every qemu JSON field (our "findings" array aside).
compare_check() {
    local qrc=0 orc=0
    qemu-img check --output=json "$1" > qemu-check.json 2>/dev/null || qrc=$?
    "$CHECK" --output=json "$1" > ours-check.json 2>/dev/null || orc=$?
    assert_eq "$qrc" "$orc" "exit code of check on $1"
    if [ -s qemu-check.json ]; then
        local q o
        q=$(jq -S 'del(.filename)' qemu-check.json)
        o=$(jq -S 'del(.findings, ."findings-unlisted", .filename)' ours-check.json)
        if [ "$q" != "$o" ]; then
            diff -u <(echo "$q") <(echo "$o") >&2
            fail "check JSON differs for $1"
        fi
        pass
    fi
}

# expect_finding IMAGE KIND: a finding of that kind is reported.
expect_finding() {
    "$CHECK" --output=json "$1" > ours-check.json 2>/dev/null || true
    jq -e --arg k "$2" '[.findings[] | select(.kind == $k)] | length > 0' ours-check.json >/dev/null ||
        fail "no '$2' finding for $1: $(jq -c '.findings' ours-check.json)"
    pass
}

# finding_field IMAGE KIND FIELD: prints FIELD of the first finding of KIND.
finding_field() {
    "$CHECK" --output=json "$1" 2>/dev/null | jq -r --arg k "$2" --arg f "$3" \
        '[.findings[] | select(.kind == $k)][0][$f] // empty'
}

# ---------------------------------------------------------------------------
# Scenario helpers (check_*.sh).

# mkbase NAME [qemu-img create options]: the reference image of
# docs/qemu-check-behaviour.md section 1: 4 MiB, 64 KiB clusters, 0x11 at
# guest 0 (host cluster 5), 0x22 at 1M..1M+128k (host clusters 6 and 7).
mkbase() {
    local n=$1; shift
    rm -f "$n"
    qemu-img create -q -f qcow2 "$@" "$n" 4M
    qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' "$n" >/dev/null
}

# cluster_of OFFSET: OFFSET / 64 KiB.
cluster_of() { echo $(( $1 / 65536 )); }

# ours IMAGE [options]: runs imgmend-check --output=json: the document goes
# to ours-check.json, stderr to ours-check.err, the exit code to $ORC, and
# the findings, one per line as tab-separated key=value pairs, to
# ours-findings.tsv. jq is slow to start, so the result is reused while the
# image (inode, size, mtime, ctime) and the options are unchanged: every
# command between two runs takes longer than the timestamp granularity.
_ours_key=
ours() {
    local img=$1; shift
    local key
    key="$img|$*|$(stat -c '%i %s %y %z' "$img" 2>/dev/null || echo missing)"
    if [ "$key" = "$_ours_key" ] && [ -f ours-keep.json ]; then
        cp ours-keep.json ours-check.json
        return
    fi
    ORC=0
    "$CHECK" --output=json "$@" "$img" > ours-check.json 2> ours-check.err || ORC=$?
    cp ours-check.json ours-keep.json
    jq -r '.findings[]? | to_entries | map("\(.key)=\(.value | tostring)") | join("\t")' \
        ours-check.json > ours-findings.tsv 2>/dev/null || : > ours-findings.tsv
    _ours_key=$key
}

# _num VALUE: 0x.. hex to decimal, anything else unchanged.
_num() { case "$1" in 0x*|0X*) printf '%d' "$1" ;; *) printf '%s' "$1" ;; esac; }

# _count KIND [FIELD=VALUE...]: how many findings of the last `ours` run
# are of KIND (any kind if empty) and have these field values. VALUE "null"
# means the field is absent; 0x.. values are converted to decimal.
_count() {
    local kind=$1 kv; shift
    {
        echo '#'
        [ -z "$kind" ] || printf 'kind=%s\n' "$kind"
        for kv in "$@"; do printf '%s=%s\n' "${kv%%=*}" "$(_num "${kv#*=}")"; done
    } > match-conds.txt
    awk -F'\t' '
        NR == FNR { if (FNR > 1) { i = index($0, "="); ck[++n] = substr($0, 1, i - 1); cv[n] = substr($0, i + 1) }; next }
        {
            split("", f)
            for (j = 1; j <= NF; j++) { i = index($j, "="); f[substr($j, 1, i - 1)] = substr($j, i + 1) }
            ok = 1
            for (c = 1; c <= n; c++) { v = (ck[c] in f) ? f[ck[c]] : "null"; if (v != cv[c]) { ok = 0; break } }
            m += ok
        }
        END { print m + 0 }' match-conds.txt ours-findings.tsv
}

# _show KIND: our findings of KIND (all if empty), for failure messages.
_show() {
    local found
    found=$(grep -F "kind=$1" ours-findings.tsv | head -20 | tr '\t' ' ') || true
    echo "${found:-(none)}"
}

# expect_located IMAGE KIND FIELD=VALUE... [-- check options]: some finding
# of KIND has all these field values (e.g. cluster=6 l2-index=16
# guest-offset=0x100000 snapshot=1 repair=leaks owner="refcount block 0").
expect_located() {
    local img=$1 kind=$2; shift 2
    local conds=() opts=()
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then shift; opts=("$@"); break; fi
        conds+=("$1"); shift
    done
    ours "$img" "${opts[@]}"
    [ "$(_count "$kind" "${conds[@]}")" -gt 0 ] ||
        fail "no '$kind' finding with ${conds[*]} for $img; we have: $(_show "$kind")"
    pass
}

# expect_count IMAGE KIND N [FIELD=VALUE...]: exactly N findings of KIND
# (with these field values, if given).
expect_count() {
    local img=$1 kind=$2 n=$3; shift 3
    ours "$img"
    local got
    got=$(_count "$kind" "$@")
    [ "$got" = "$n" ] || fail "expected $n '$kind' findings $* for $img, got $got: $(_show "$kind")"
    pass
}

# expect_kinds IMAGE KIND...: the findings' kinds, sorted and de-duplicated,
# are exactly these (so nothing unexpected is reported either).
expect_kinds() {
    local img=$1; shift
    ours "$img"
    local want got
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort -u | paste -sd' ')
    got=$(sed -n 's/^kind=\([^\t]*\).*/\1/p' ours-findings.tsv | sort -u | paste -sd' ')
    assert_eq "$want" "$got" "kinds of findings for $img"
}

# expect_exit RC IMAGE [options]: imgmend-check's exit code.
expect_exit() {
    local rc=$1 img=$2; shift 2
    ours "$img" "$@"
    assert_eq "$rc" "$ORC" "exit code of imgmend-check $* $img"
}

# expect_warning IMAGE KIND [options]: a finding of KIND with severity
# "warning", and none of KIND with another severity. (That the exit code is
# not changed is checked by the scenario, against qemu-img.)
expect_warning() {
    local img=$1 kind=$2; shift 2
    ours "$img" "$@"
    local all warnings
    all=$(_count "$kind")
    warnings=$(_count "$kind" severity=warning)
    [ "$warnings" -gt 0 ] || fail "no '$kind' warning for $img $*; we have: $(_show "")"
    pass
    assert_eq "$all" "$warnings" "'$kind' findings that are warnings for $img"
}

# our_field IMAGE FIELD: a top-level member of imgmend-check's JSON ("" if absent).
our_field() {
    ours "$1"
    jq -r --arg f "$2" '.[$f] // empty' ours-check.json
}

# compare_messages IMAGE: qemu-img check's per-problem stderr lines (ERROR
# ..., Leaked ..., Can't get refcount ...) equal, in order, the "message"
# of our findings that are not warnings.
compare_messages() {
    qemu-img check "$1" > /dev/null 2> qemu-check.err || true
    ours "$1"
    # (qemu prints "Some clusters may be leaked, ... to fix." without a newline)
    sed 's/^Some clusters may be leaked, .* on the image file to fix\.//' qemu-check.err |
        grep -E "^(ERROR|Leaked cluster|Can't get refcount)" > qemu-msgs.txt || true
    grep -v -P '\tseverity=warning(\t|$)' ours-findings.tsv | grep -o -P '(^|\t)message=[^\t]*' |
        sed 's/^\t//; s/^message=//' > ours-msgs.txt || true
    if ! diff -u qemu-msgs.txt ours-msgs.txt >&2; then fail "finding messages differ from qemu-img's for $1"; fi
    pass
}

# compare_full IMAGE: compare_check and compare_messages; $ORC is our exit code.
compare_full() {
    compare_check "$1"
    compare_messages "$1"
}

# compare_human_check IMAGE [options]: the stdout of `qemu-img check` and of
# `imgmend-check` (the human summary) are identical, as are the exit codes.
compare_human_check() {
    local qrc=0 orc=0
    qemu-img check "$@" > qemu-human.txt 2>/dev/null || qrc=$?
    "$CHECK" "$@" > ours-human.txt 2>/dev/null || orc=$?
    assert_eq "$qrc" "$orc" "exit code of human check $*"
    if ! diff -u qemu-human.txt ours-human.txt >&2; then fail "human summary differs for $*"; fi
    pass
}

# poke_u64 IMAGE OFFSET (--or BITS | VALUE): modifies the big-endian 64-bit
# word at a file offset (for tables poke has no locator for).
poke_u64() {
    python3 - "$@" <<'PY'
import struct, sys
img, off = sys.argv[1], int(sys.argv[2], 0)
with open(img, 'r+b') as f:
    f.seek(off)
    (v,) = struct.unpack('>Q', f.read(8))
    v = v | int(sys.argv[4], 0) if sys.argv[3] == '--or' else int(sys.argv[3], 0)
    f.seek(off)
    f.write(struct.pack('>Q', v))
PY
}

# bitmap_directory_offset IMAGE: the bitmap directory offset from the
# bitmaps header extension (0 if there is none).
bitmap_directory_offset() {
    python3 - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], 'rb') as f:
    h = f.read(65536)
version = struct.unpack('>I', h[4:8])[0]
pos = struct.unpack('>I', h[100:104])[0] if version >= 3 else 72
while pos + 8 <= len(h):
    typ, length = struct.unpack('>II', h[pos:pos + 8])
    if typ == 0:
        break
    if typ == 0x23852875:
        print(struct.unpack('>Q', h[pos + 24:pos + 32])[0])
        sys.exit(0)
    pos += 8 + (length + 7) // 8 * 8
print(0)
PY
}
