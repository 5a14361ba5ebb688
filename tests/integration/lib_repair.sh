# Helpers for imgmend-repair scenarios; source after lib.sh and lib_check.sh.
#
# The oracle: after our repair `qemu-img check` must be clean (exit 0) and
# `qemu-img compare` with an undamaged twin identical, wherever qemu-img's
# own repair keeps the data; where qemu's repair loses data we keep it or
# refuse, and the scenario shows both (a third copy repaired by qemu-img).
REPAIR="$IMGMEND_BIN_DIR/imgmend-repair"
CRASH_REPAIR="$IMGMEND_TEST_TOOLS/../tools/crash_repair"

# soft_eq EXPECTED ACTUAL WHAT: like assert_eq, but a mismatch is recorded
# and the scenario goes on; finish then fails listing every one. For
# deviations (counts, header bits) that do not make later steps meaningless.
SOFT_FAILURES=()
soft_eq() {
    if [ "$1" = "$2" ]; then pass; return; fi
    echo "FAIL (recorded): $3: expected '$1', got '$2'" >&2
    SOFT_FAILURES+=("$3: expected '$1', got '$2'")
}
finish() {
    if [ ${#SOFT_FAILURES[@]} -gt 0 ]; then
        echo "FAIL: ${#SOFT_FAILURES[@]} recorded failures (above); $CHECKS checks passed" >&2
        exit 1
    fi
    echo "ok: $CHECKS checks"
}

# our_repair MODE IMAGE [options]: imgmend-repair -r MODE --output=json; the
# document goes to ours-repair.json, stderr to ours-repair.err, the exit
# code to $RRC.
our_repair() {
    local mode=$1 img=$2; shift 2
    RRC=0
    "$REPAIR" -r "$mode" --output=json "$@" "$img" > ours-repair.json 2> ours-repair.err || RRC=$?
}

# qemu_repair MODE IMAGE: qemu-img check -r MODE --output=json; the document
# goes to qemu-repair.json, stderr to qemu-repair.err, the exit code to $QRC.
qemu_repair() {
    QRC=0
    qemu-img check -r "$1" --output=json "$2" > qemu-repair.json 2> qemu-repair.err || QRC=$?
}

# fixed FILE: "leaks-fixed corruptions-fixed" of a repair's JSON document.
fixed() { jq -r '"\(.["leaks-fixed"] // 0) \(.["corruptions-fixed"] // 0)"' "$1" 2>/dev/null || echo "none"; }

# qemu_rc IMAGE: qemu-img check's exit code (its output in qemu-after.txt).
qemu_rc() {
    local rc=0
    qemu-img check "$1" > qemu-after.txt 2>&1 || rc=$?
    echo "$rc"
}

# expect_qemu_rc RC IMAGE WHAT: qemu-img check exits RC on IMAGE.
expect_qemu_rc() {
    local rc
    rc=$(qemu_rc "$2")
    [ "$rc" = "$1" ] || { cat qemu-after.txt >&2; fail "$3: qemu-img check $2 exited $rc, expected $1"; }
    pass
}

# expect_qemu_clean IMAGE WHAT: qemu-img check finds nothing.
expect_qemu_clean() { expect_qemu_rc 0 "$1" "$2"; }

# expect_same_guest A B WHAT: qemu-img compare finds the guest views identical.
expect_same_guest() {
    qemu-img compare -U "$1" "$2" > compare.txt 2>&1 || { cat compare.txt >&2; fail "$3: $2 differs from $1"; }
    pass
}

# soft_same_guest A B WHAT: expect_same_guest, recorded like soft_eq.
soft_same_guest() {
    if qemu-img compare -U "$1" "$2" > compare.txt 2>&1; then pass; return; fi
    soft_eq "Images are identical." "$(tail -1 compare.txt)" "$3: $2 against $1"
}

# expect_other_guest A B WHAT: the guest views differ (or B cannot be read).
expect_other_guest() {
    if qemu-img compare -U "$1" "$2" > compare.txt 2>&1; then fail "$3: $2 unexpectedly equals $1"; fi
    pass
}

# expect_unchanged ORIGINAL IMAGE WHAT: byte for byte the same file.
# (Recorded like soft_eq, so one scenario reports every such case.)
expect_unchanged() {
    if cmp -s "$1" "$2"; then pass; return; fi
    soft_eq "unchanged" "changed ($(cmp "$1" "$2" 2>&1 | sed 's/.*differ: //'))" "$3: $2"
}

# expect_rrc RC WHAT: our repair's exit code.
expect_rrc() {
    [ "$RRC" = "$1" ] || { cat ours-repair.err >&2; fail "$2: imgmend-repair exited $RRC, expected $1"; }
    pass
}

# expect_refused PATTERN WHAT: one of our "refused" lines (which also go to
# stderr) matches the extended regex PATTERN: we said what we left alone and why.
expect_refused() {
    jq -r '.refused[]' ours-repair.json > refused.txt 2>/dev/null || true
    grep -qE -- "$1" refused.txt || fail "$2: no refusal matching '$1': $(head -c 600 refused.txt)"
    pass
    grep -qE -- "$1" ours-repair.err || fail "$2: the refusal '$1' is not on stderr: $(head -c 600 ours-repair.err)"
    pass
}

# expect_fixed "LEAKS CORRUPTIONS" WHAT: our repair's -fixed counts.
expect_fixed() { soft_eq "$1" "$(fixed ours-repair.json)" "$2: leaks-fixed corruptions-fixed"; }

# refcount IMAGE CLUSTER: the on-disk refcount of a cluster.
refcount() { poke "$1" get refcount "$2"; }

# host_bytes IMAGE OFFSET LENGTH: hex dump of host bytes (for "is the data
# still there" checks on images qemu-img cannot read through).
host_bytes() { od -An -tx1 -v -j "$(( $2 ))" -N "$(( $3 ))" "$1" | tr -d ' \n'; }
# host_digest IMAGE OFFSET LENGTH: a checksum of those bytes and the first 16
# of them, short enough for a failure message.
host_digest() {
    echo "$(host_bytes "$1" "$2" "$3" | md5sum | cut -c1-12) ($(host_bytes "$1" "$2" 16)...)"
}

# repair_both NAME MODE DAMAGED: NAME.ours.qcow2 repaired by us (result in
# ours-repair.*, $RRC) and NAME.qemu.qcow2 by qemu-img (qemu-repair.*, $QRC),
# both copies of DAMAGED.
repair_both() {
    local name=$1 mode=$2 damaged=$3
    cp "$damaged" "$name.ours.qcow2"
    cp "$damaged" "$name.qemu.qcow2"
    our_repair "$mode" "$name.ours.qcow2"
    qemu_repair "$mode" "$name.qemu.qcow2"
}

# repair_fixes NAME MODE DAMAGED TWIN: the common case. Both repairs end
# with a clean qemu-img check and the guest view of TWIN; our -fixed counts
# are qemu's.
repair_fixes() {
    local name=$1 mode=$2 damaged=$3 twin=$4
    repair_both "$name" "$mode" "$damaged"
    expect_rrc 0 "$name -r $mode"
    expect_qemu_clean "$name.ours.qcow2" "$name -r $mode (ours)"
    expect_same_guest "$twin" "$name.ours.qcow2" "$name -r $mode (ours)"
    expect_qemu_clean "$name.qemu.qcow2" "$name -r $mode (qemu-img, the oracle)"
    expect_same_guest "$twin" "$name.qemu.qcow2" "$name -r $mode (qemu-img, the oracle)"
    soft_eq "$(fixed qemu-repair.json)" "$(fixed ours-repair.json)" "$name -r $mode: -fixed counts against qemu-img's"
}

# repair_leaves NAME MODE DAMAGED: our repair changes nothing where it can
# (or will) fix nothing: exit 2, the file byte for byte as it was. (What
# qemu-img did is in $QRC and NAME.qemu.qcow2 for the scenario to judge.)
repair_leaves() {
    local name=$1 mode=$2 damaged=$3
    repair_both "$name" "$mode" "$damaged"
    expect_rrc 2 "$name -r $mode"
    expect_unchanged "$damaged" "$name.ours.qcow2" "$name -r $mode (nothing to fix)"
    expect_no_new_errors "$damaged" "$name.ours.qcow2" "$name -r $mode"
}

# qemu_errors IMAGE: qemu-img check's ERROR lines, sorted and unique.
qemu_errors() { { qemu-img check "$1" 2>&1 >/dev/null || true; } | grep '^ERROR' | sort -u || true; }

# expect_no_new_errors BEFORE AFTER WHAT: qemu-img check finds no ERROR in
# AFTER that it did not find in BEFORE: a repair never makes things worse.
# (Recorded like soft_eq.)
expect_no_new_errors() {
    local new
    new=$(comm -13 <(qemu_errors "$1") <(qemu_errors "$2") | paste -sd';')
    soft_eq "" "$new" "$3: ERROR lines qemu-img check did not report before the repair"
}

# ---------------------------------------------------------------------------
# Crash injection.

# expect_crash_safe MODE DAMAGED TWIN: for every N from 0 to the number of
# writes the repair does, the state left by a crash after write N -- what was
# written (the page cache survived) and what was flushed (a power cut) --
# opens in qemu-img and imgmend-map, gives qemu-img check no ERROR line the
# damaged image did not already have (leaks are acceptable), and has TWIN's
# guest view; and running the repair again on it ends clean with that
# guest view. Where the damaged image itself cannot be mapped or compared
# (e.g. qemu-img refuses an unaligned entry or a snapshot table it cannot
# read), a crashed state may fail the same way, never another. The
# completed repair ends clean. Sets CRASH_WRITES to the number of writes.
# With CRASH_BENIGN_COPIED set, OFLAG_COPIED missing on an entry whose
# cluster has refcount 1 is accepted too: it only costs a copy on the next
# guest write. No write order avoids it where a dropped snapshot's share of a
# cluster is freed (lowering the refcount to 1 first leaves COPIED missing;
# setting COPIED first leaves it set on refcount 2, which is unsafe).
expect_crash_safe() {
    local mode=$1 damaged=$2 twin=$3 n i v new base_map base_cmp base_info now
    n=$("$CRASH_REPAIR" count "$mode" "$damaged") || fail "crash_repair count $mode $damaged"
    [ "$n" -gt 0 ] || fail "-r $mode on $damaged plans no writes"
    qemu_errors "$damaged" > crash-before.txt
    cp "$damaged" crashed.qcow2 # (messages name the file)
    base_map=$("$MAP" crashed.qcow2 2>&1 > /dev/null) || true
    base_cmp=$(qemu-img compare -U "$twin" crashed.qcow2 2>&1) || true
    base_info=$(qemu-img info crashed.qcow2 2>&1 > /dev/null) || true
    for i in $(seq 0 "$n"); do
        for v in "" --flushed; do
            local what="crash after write $i${v:+ (flushed only)} of $n, -r $mode on $damaged"
            "$CRASH_REPAIR" $v "$mode" "$damaged" "$i" crashed.qcow2 || fail "crash_repair: $what"
            if ! now=$(qemu-img info crashed.qcow2 2>&1 > /dev/null); then
                [ "$now" = "$base_info" ] || fail "$what: qemu-img cannot open it: $now"
            fi
            if ! now=$("$MAP" crashed.qcow2 2>&1 > /dev/null); then
                [ "$now" = "$base_map" ] || fail "$what: imgmend-map cannot open it: $now"
            fi
            qemu_errors crashed.qcow2 > crash-now.txt
            new=$(comm -13 crash-before.txt crash-now.txt)
            if [ -n "${CRASH_BENIGN_COPIED:-}" ]; then
                new=$(grep -vE '^ERROR OFLAG_COPIED (L2|data) cluster: .* refcount=1$' <<< "$new" || true)
            fi
            [ -z "$new" ] || fail "$what: new corruption: $new"
            if ! now=$(qemu-img compare -U "$twin" crashed.qcow2 2>&1); then
                [ "$now" = "$base_cmp" ] || fail "$what: guest view: $now"
            fi
            pass
            # Running the repair again after the crash finishes the job.
            "$REPAIR" -r "$mode" -q crashed.qcow2 > /dev/null 2> rerun.err ||
                { cat rerun.err >&2; fail "$what: repairing again failed"; }
            [ "$(qemu_rc crashed.qcow2)" = 0 ] || { cat qemu-after.txt >&2; fail "$what: not clean after repairing again"; }
            qemu-img compare -U "$twin" crashed.qcow2 > compare.txt 2>&1 ||
                fail "$what: guest view after repairing again: $(cat compare.txt)"
            pass
        done
    done
    "$CRASH_REPAIR" "$mode" "$damaged" "$n" crashed.qcow2 || fail "crash_repair $mode $damaged $n"
    expect_qemu_clean crashed.qcow2 "all $n writes of -r $mode on $damaged"
    expect_same_guest "$twin" crashed.qcow2 "all $n writes of -r $mode on $damaged"
    CRASH_WRITES=$n
}

# ---------------------------------------------------------------------------
# Snapshot tables.

# snaptable IMAGE OP...: rewrites IMAGE's snapshot table, in place if it
# fits the clusters the old one used, else appended at the end of the file
# with refcount 1 for its clusters (the old table's clusters are then
# freed), and prints where it is. OPs, applied in order:
#   extra N SIZE     entry N keeps only SIZE bytes of its extra data
#   dummies K [BIG]  K snapshots without an L1 table (ids and names "dI";
#                    with BIG padded to 65535 bytes each) before the others
snaptable() {
    local img=$1 at old first last c
    shift
    old=$(poke "$img" get header snapshots_offset)
    first=$(poke "$img" get clusters)
    at=$(python3 - "$img" "$@" <<'PY'
import struct, sys
img, args = sys.argv[1], sys.argv[2:]
d = bytearray(open(img, 'rb').read())
nb, off = struct.unpack('>IQ', d[60:72])
cs = 1 << struct.unpack('>I', d[20:24])[0]
ents, p = [], off
for _ in range(nb):
    fixed = bytearray(d[p:p + 40])
    ids, ns = struct.unpack('>HH', fixed[12:16])
    es = struct.unpack('>I', fixed[36:40])[0]
    q = p + 40 + es
    ents.append([fixed, bytes(d[p + 40:q]), bytes(d[q:q + ids]), bytes(d[q + ids:q + ids + ns])])
    p = (q + ids + ns + 7) // 8 * 8
old_clusters = (p - off + cs - 1) // cs
while args:
    op = args.pop(0)
    if op == 'extra':
        n, size = int(args.pop(0)), int(args.pop(0))
        ents[n][1] = (ents[n][1] + bytes(size))[:size]
    elif op == 'dummies':
        k = int(args.pop(0))
        big = bool(args) and args[0] == 'BIG'
        if big:
            args.pop(0)
        new = []
        for i in range(k):
            name = b'd%d' % i
            if big:
                name += b'x' * (65535 - len(name))
            fixed = bytearray(40)
            new.append([fixed, struct.pack('>QQq', 0, struct.unpack('>Q', d[24:32])[0], -1), name, name])
        ents = new + ents
    else:
        sys.exit('snaptable: unknown op ' + op)
out = bytearray()
for fixed, extra, idv, name in ents:
    struct.pack_into('>HH', fixed, 12, len(idv), len(name))
    struct.pack_into('>I', fixed, 36, len(extra))
    e = bytes(fixed) + extra + idv + name
    out += e + bytes(-len(e) % 8)
if (len(out) + cs - 1) // cs <= old_clusters:
    d[off:off + len(out)] = out
    new_off = off
else:
    new_off = (len(d) + cs - 1) // cs * cs
    d[len(d):] = bytes(new_off - len(d)) + out + bytes(-len(out) % cs)
struct.pack_into('>IQ', d, 60, len(ents), new_off)
open(img, 'wb').write(d)
print(new_off)
PY
)
    if [ "$at" != "$old" ]; then
        last=$(poke "$img" get clusters)
        for ((c = first; c < last; c++)); do poke "$img" refcount "$c" 1; done
        poke "$img" refcount "$(cluster_of "$old")" 0
    fi
    echo "$at"
}

# snapshot_list IMAGE: `qemu-img snapshot -l` without its header line.
snapshot_list() { qemu-img snapshot -l -U "$1" | tail -n +3; }

# snapshot_table_bytes IMAGE: a checksum of the snapshot table (entries
# without the last one's padding, which qemu may leave past the end of the
# file) and its entry count.
snapshot_table_bytes() {
    python3 - "$1" <<'PY'
import hashlib, struct, sys
d = open(sys.argv[1], 'rb').read()
nb, off = struct.unpack('>IQ', d[60:72])
p = end = off
for _ in range(nb):
    ids, ns = struct.unpack('>HH', d[p + 12:p + 16])
    es = struct.unpack('>I', d[p + 36:p + 40])[0]
    end = p + 40 + es + ids + ns
    p = (end + 7) // 8 * 8
print(nb, hashlib.md5(d[off:end]).hexdigest())
PY
}
