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
        o=$(jq -S 'del(.findings, .filename)' ours-check.json)
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

# ours IMAGE [options]: runs imgmend-check --output=json; the document goes
# to ours-check.json, stderr to ours-check.err, the exit code to $ORC.
ours() {
    local img=$1; shift
    ORC=0
    "$CHECK" --output=json "$@" "$img" > ours-check.json 2> ours-check.err || ORC=$?
}

# _num VALUE: 0x.. hex to decimal, anything else unchanged.
_num() { case "$1" in 0x*|0X*) printf '%d' "$1" ;; *) printf '%s' "$1" ;; esac; }

# _match_filter FIELD=VALUE...: sets $_match_cond to a jq condition on a
# finding `.` and _match_args to its jq arguments; VALUE "null" means the
# field is absent; 0x.. values are converted.
_match_args=()
_match_cond=true
_match_filter() {
    local i=0 kv
    _match_cond=true
    _match_args=()
    for kv in "$@"; do
        _match_args+=(--arg "f$i" "${kv%%=*}" --arg "v$i" "$(_num "${kv#*=}")")
        _match_cond="$_match_cond and ((.[\$f$i] | tostring) == \$v$i)"
        i=$((i + 1))
    done
}

# expect_located IMAGE KIND FIELD=VALUE... [-- check options]: some finding
# of KIND has all these field values (e.g. cluster=6 l2-index=16
# guest-offset=0x100000 snapshot=1 repair=leaks).
expect_located() {
    local img=$1 kind=$2; shift 2
    local conds=() opts=()
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then shift; opts=("$@"); break; fi
        conds+=("$1"); shift
    done
    ours "$img" "${opts[@]}"
    _match_filter "${conds[@]}"
    jq -e --arg k "$kind" "${_match_args[@]}" \
        "[.findings[] | select(.kind == \$k) | select($_match_cond)] | length > 0" ours-check.json >/dev/null ||
        fail "no '$kind' finding with ${conds[*]} for $img: $(jq -c --arg k "$kind" '[.findings[] | select(.kind == $k)]' ours-check.json)"
    pass
}

# expect_count IMAGE KIND N [FIELD=VALUE...]: exactly N findings of KIND
# (matching the fields, if given).
expect_count() {
    local img=$1 kind=$2 n=$3; shift 3
    ours "$img"
    local got
    _match_filter "$@"
    got=$(jq --arg k "$kind" "${_match_args[@]}" \
        "[.findings[] | select(.kind == \$k) | select($_match_cond)] | length" ours-check.json)
    [ "$got" = "$n" ] ||
        fail "expected $n '$kind' findings $* for $img, got $got: $(jq -c --arg k "$kind" '[.findings[] | select(.kind == $k)]' ours-check.json)"
    pass
}

# expect_kinds IMAGE KIND...: the findings' kinds, sorted and de-duplicated,
# are exactly these (so nothing unexpected is reported either).
expect_kinds() {
    local img=$1; shift
    ours "$img"
    local want got
    want=$(printf '%s\n' "$@" | sort -u | paste -sd' ')
    got=$(jq -r '.findings[].kind' ours-check.json | sort -u | paste -sd' ')
    assert_eq "$want" "$got" "kinds of findings for $img"
}

# expect_exit RC IMAGE [options]: imgmend-check's exit code.
expect_exit() {
    local rc=$1 img=$2; shift 2
    ours "$img" "$@"
    assert_eq "$rc" "$ORC" "exit code of imgmend-check $* $img"
}

# expect_warning IMAGE KIND [options]: a finding of KIND with severity
# "warning", and no finding of KIND with another severity. (That the exit
# code is not changed is checked by the scenario, against qemu-img.)
expect_warning() {
    local img=$1 kind=$2; shift 2
    ours "$img" "$@"
    jq -e --arg k "$kind" '[.findings[] | select(.kind == $k and .severity == "warning")] | length > 0' \
        ours-check.json >/dev/null ||
        fail "no '$kind' warning for $img: $(jq -c '.findings' ours-check.json)"
    pass
    jq -e --arg k "$kind" '[.findings[] | select(.kind == $k and .severity != "warning")] | length == 0' \
        ours-check.json >/dev/null || fail "'$kind' reported with a severity other than warning for $img"
    pass
}

# our_field IMAGE FIELD: a top-level member of imgmend-check's JSON ("" if absent).
our_field() {
    ours "$1"
    jq -r --arg f "$2" '.[$f] // empty' ours-check.json
}

# compare_messages IMAGE: qemu-img check's per-problem stderr lines (ERROR
# ..., Leaked ..., Can't get refcount ...) equal, in order, the "message"
# of our non-warning findings.
compare_messages() {
    qemu-img check "$1" > /dev/null 2> qemu-check.err || true
    ours "$1"
    grep -E "^(ERROR|Leaked cluster|Can't get refcount)" qemu-check.err > qemu-msgs.txt || true
    jq -r '.findings[] | select(.severity != "warning") | .message' ours-check.json > ours-msgs.txt
    if ! diff -u qemu-msgs.txt ours-msgs.txt >&2; then fail "finding messages differ from qemu-img's for $1"; fi
    pass
}

# compare_full IMAGE: compare_check and compare_messages.
compare_full() { compare_check "$1"; compare_messages "$1"; }

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

# cluster_of OFFSET: OFFSET / 64 KiB.
cluster_of() { echo $(( $1 / 65536 )); }
