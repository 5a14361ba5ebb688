# Helpers for imgmend-rebase scenarios; source after lib.sh.
REBASE="$IMGMEND_BIN_DIR/imgmend-rebase"

# rebase ARGS...: runs imgmend-rebase; stderr goes to rebase.err (and is
# shown when the run fails).
rebase() {
    "$REBASE" "$@" 2> rebase.err || { cat rebase.err >&2; fail "imgmend-rebase $*"; }
    pass
}

# guest_raw IMAGE OUT: IMAGE's guest view through its chain, as raw.
guest_raw() { qemu-img convert -U -O raw "$1" "$2" || fail "qemu-img convert $1"; }

# expect_guest RAW IMAGE: IMAGE's guest view is RAW byte for byte, both as
# qemu reads it and as our chain reader does (lib.sh's compare_guest, with
# one conversion).
expect_guest() {
    guest_raw "$2" guest-qemu.raw
    cmp "$1" guest-qemu.raw >&2 || fail "guest view of $2 differs from $1"
    pass
    "$GUEST_READ" "$2" guest-ours.raw || fail "guest_read $2"
    cmp guest-qemu.raw guest-ours.raw >&2 || fail "our guest reader and qemu differ on $2"
    pass
    rm -f guest-qemu.raw guest-ours.raw
}

# expect_clean IMAGE: qemu-img check finds neither errors nor leaks.
expect_clean() {
    local rc=0
    qemu-img check -U "$1" > qemu-check.out 2>&1 || rc=$?
    [ "$rc" = 0 ] || { cat qemu-check.out >&2; fail "qemu-img check $1 exited $rc"; }
    pass
}

# info_field IMAGE JQ: a field of `qemu-img info --output=json` (no chain).
info_field() { qemu-img info -U --output=json "$1" | jq -r "$2 // \"\""; }

# expect_backing IMAGE NAME FORMAT: the stored backing name and format
# ("" "" for none).
expect_backing() {
    assert_eq "$2" "$(info_field "$1" '.["backing-filename"]')" "backing file of $1"
    assert_eq "$3" "$(info_field "$1" '.["backing-filename-format"]')" "backing format of $1"
}

# check_field IMAGE FIELD: a member of `qemu-img check --output=json` (0 if absent).
check_field() { qemu-img check -U --output=json "$1" 2>/dev/null | jq -r ".[\"$2\"] // 0"; }

# subcluster_size IMAGE
subcluster_size() {
    local cs ext
    cs=$(info_field "$1" '.["cluster-size"]')
    ext=$(info_field "$1" '.["format-specific"].data["extended-l2"]')
    if [ "$ext" = true ]; then echo $((cs / 32)); else echo "$cs"; fi
}

# local_counts IMAGE: "DATA ZERO" = how many subclusters (clusters without
# extended L2) of IMAGE's own layer hold data, and how many only the zero
# flag, per `qemu-img map --output=json` (distinct subclusters: qemu splits
# a cluster into several extents where its host file has holes).
local_counts() {
    local scs
    scs=$(subcluster_size "$1")
    qemu-img map -U --output=json "$1" | jq -s --argjson s "$scs" -r '
        add | map(select(.depth == 0 and .present)
                  | {data, first: (.start / $s | floor), end: ((.start + .length + $s - 1) / $s | floor)})
        | (map(select(.data) | range(.first; .end)) | unique) as $d
        | (map(select(.data | not) | range(.first; .end)) | unique) as $z
        | "\($d | length) \(($z - $d) | length)"'
}

# expect_local_zero IMAGE START LENGTH: [START, START+LENGTH) reads as
# zero:true, data:false at depth 0 (zero flag, no data cluster).
expect_local_zero() {
    local got
    got=$(qemu-img map -U --output=json "$1" | jq -s --argjson a "$2" --argjson n "$3" -r '
        add | map(select(.start < $a + $n and .start + .length > $a))
        | if length > 0 and all(.depth == 0 and .present and .zero and (.data | not)) then "yes"
          else (map("\(.start)+\(.length) depth \(.depth) present \(.present) zero \(.zero) data \(.data)") | join("; ")) end')
    assert_eq yes "$got" "zero flag at depth 0 for $2+$3 in $1"
}

# expect_not_local IMAGE START LENGTH: nothing of [START, START+LENGTH) is
# in IMAGE's own layer.
expect_not_local() {
    local got
    got=$(qemu-img map -U --output=json "$1" | jq -s --argjson a "$2" --argjson n "$3" -r '
        add | map(select(.start < $a + $n and .start + .length > $a))
        | if all(.depth > 0 or (.present | not)) then "yes"
          else (map(select(.depth == 0)) | map("\(.start)+\(.length)") | join("; ")) end')
    assert_eq yes "$got" "no local data or zeros at $2+$3 in $1"
}

# rebase_vs_qemu OVERLAY ARGS...: rebases OVERLAY with imgmend-rebase and a
# copy (qemu-OVERLAY, same folder) with `qemu-img rebase ARGS`; both keep
# the guest view, both check clean, and ours allocates no more clusters,
# data subclusters, local subclusters or file bytes than qemu-img does.
rebase_vs_qemu() {
    local ov=$1; shift
    local dir base copy
    dir=$(dirname "$ov") base=$(basename "$ov")
    copy="$dir/qemu-$base"
    cp "$ov" "$copy"
    guest_raw "$ov" vs-qemu-before.raw
    qemu-img rebase "$@" "$copy" || fail "qemu-img rebase $* $copy"
    rebase "$@" "$ov"
    expect_guest vs-qemu-before.raw "$copy"
    expect_guest vs-qemu-before.raw "$ov"
    expect_clean "$copy"
    expect_clean "$ov"
    local qc oc qd qz od oz qe oe
    qc=$(check_field "$copy" allocated-clusters) oc=$(check_field "$ov" allocated-clusters)
    read -r qd qz <<< "$(local_counts "$copy")"
    read -r od oz <<< "$(local_counts "$ov")"
    qe=$(check_field "$copy" image-end-offset) oe=$(check_field "$ov" image-end-offset)
    echo "vs qemu ($ov $*): clusters $oc/$qc, data subclusters $od/$qd, zero $oz/$qz, end $oe/$qe" >&2
    [ "$oc" -le "$qc" ] || fail "$ov: imgmend allocated $oc clusters, qemu-img $qc"
    pass
    [ "$od" -le "$qd" ] || fail "$ov: imgmend has $od local data subclusters, qemu-img $qd"
    pass
    [ $((od + oz)) -le $((qd + qz)) ] || fail "$ov: imgmend has $((od + oz)) local subclusters, qemu-img $((qd + qz))"
    pass
    [ "$oe" -le "$qe" ] || fail "$ov: imgmend's image ends at $oe, qemu-img's at $qe"
    pass
    rm -f vs-qemu-before.raw
}

# expect_refused EXPECTED_MESSAGE_REGEX IMAGE ARGS...: imgmend-rebase ARGS
# IMAGE exits non-zero with one "imgmend-rebase: error: " line matching the
# regex, and leaves IMAGE byte-identical.
expect_refused() {
    local re=$1 img=$2; shift 2
    cp "$img" refused-before.bin
    local rc=0
    "$REBASE" "$@" "$img" > refused.out 2> refused.err || rc=$?
    [ "$rc" != 0 ] || fail "imgmend-rebase $* $img succeeded; expected an error matching '$re'"
    pass
    grep -q "^imgmend-rebase: error: " refused.err || fail "no 'imgmend-rebase: error:' line for $*: $(cat refused.err)"
    pass
    grep -Eq -e "$re" refused.err || fail "error for $* does not match '$re': $(cat refused.err)"
    pass
    cmp refused-before.bin "$img" >&2 || fail "imgmend-rebase $* changed $img although it failed"
    pass
    rm -f refused-before.bin refused.out
}
