# Helpers for imgmend-check scenarios; source after lib.sh.
CHECK="$IMGMEND_BIN_DIR/imgmend-check"
POKE="$IMGMEND_TEST_TOOLS/../tools/poke"

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
