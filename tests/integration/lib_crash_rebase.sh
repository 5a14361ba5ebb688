# Crash injection for imgmend-rebase scenarios; source after lib_rebase.sh.
CRASH_REBASE="$IMGMEND_TEST_TOOLS/../tools/crash_rebase"

# crash_all [-u] [-c] OVERLAY BACKING FMT: for every N from 0 to the number
# of device writes the rebase does, runs it on an in-memory copy of OVERLAY
# that crashes after write N (tests/tools/crash_rebase.cpp) and checks what
# is left (crashed.qcow2, beside OVERLAY so its backing name resolves the
# same way): qemu-img opens it, its guest view through whatever backing its
# header names equals OVERLAY's before the rebase, byte for byte, and
# qemu-img check finds no corruption (leaks are allowed). After the last
# write the rebase is complete: check is clean and the header names BACKING.
crash_all() {
    local flags=()
    while [ "${1:0:1}" = - ]; do flags+=("$1"); shift; done
    local ov=$1 backing=$2 fmt=$3
    local out total n rc what="${flags[*]} $*"
    out="$(dirname "$ov")/crashed.qcow2"
    guest_raw "$ov" crash-before.raw
    total=$("$CRASH_REBASE" count "${flags[@]}" "$ov" "$backing" "$fmt") || fail "crash_rebase count $what"
    [ "$total" -gt 0 ] || fail "the rebase of $ov does no writes"
    for ((n = 0; n <= total; n++)); do
        "$CRASH_REBASE" "${flags[@]}" "$ov" "$backing" "$fmt" "$n" "$out" || fail "crash_rebase $what $n"
        rc=0
        qemu-img compare -q -f raw crash-before.raw "$out" 2> compare.err || rc=$?
        [ "$rc" = 0 ] || fail "$what: crash after write $n of $total: guest view changed (qemu-img compare exit $rc: $(cat compare.err))"
        rc=0
        qemu-img check "$out" > crash-check.out 2>&1 || rc=$?
        [ "$rc" = 0 ] || [ "$rc" = 3 ] ||
            fail "$what: crash after write $n of $total: qemu-img check exit $rc: $(head -5 crash-check.out)"
    done
    pass
    assert_eq 0 "$rc" "qemu-img check exit of the completed rebase ($what)"
    assert_eq "$backing" "$(info_field "$out" '.["backing-filename"]')" "backing name after the completed rebase ($what)"
    echo "crash_all $what: $total writes, every crash point consistent" >&2
    rm -f "$out" crash-before.raw crash-check.out compare.err
}
