#!/bin/bash
# imgmend-repair -r all versus qemu-img check -r all on identical damaged
# copies.
#   bench/repair.sh [CASE...]     (default: rebuild-1t leaks-4k)
# Every timed run works on a fresh copy of the damaged image (copied sparse
# and synced before the run, not timed). Checks once per case that both
# repairs end with a clean qemu-img check and leave the guest view as it was,
# then prints best wall time, CPU time, speed-up and peak RSS of each tool,
# and how much of our time is the check phase (imgmend-check on the damaged
# image). Exits 1 when imgmend is less than BENCH_REPAIR_MIN_RATIO (default
# 5) times faster (wall time) in any case. See bench/README.md.
# shellcheck source-path=SCRIPTDIR disable=SC2059  # $ROW is the table format
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/images.sh"

BENCH_REPAIR_MIN_RATIO=${BENCH_REPAIR_MIN_RATIO:-5}
ALL_CASES=(rebuild-1t leaks-4k)

# damage_reftable0 SRC PATH: SRC with refcount table entry 0 zeroed (every
# cluster it covers reads refcount 0: a full rebuild).
damage_reftable0() {
    cp --sparse=always "$1" "$2"
    "$POKE" "$2" reftable 0 0 >/dev/null
}

# damage_l1_half SRC PATH: SRC with every other active L1 entry cleared: the
# L2 tables and data clusters under them are leaks.
damage_l1_half() {
    cp --sparse=always "$1" "$2"
    python3 - "$2" <<'EOF'
import struct, sys
with open(sys.argv[1], 'r+b') as f:
    h = f.read(48)
    l1_size, l1_offset = struct.unpack('>IQ', h[36:48])
    f.seek(l1_offset)
    l1 = bytearray(f.read(8 * l1_size))
    for i in range(1, l1_size, 2):
        l1[8 * i:8 * i + 8] = bytes(8)
    f.seek(l1_offset)
    f.write(l1)
EOF
}

# describe_case NAME: sets SRC_IMAGE (a cached image), DAMAGE (a function)
# and DESC.
describe_case() {
    case "$1" in
    rebuild-1t)
        make_image prealloc-1t
        DAMAGE=damage_reftable0
        DESC="prealloc-1t (1 TiB, preallocation=metadata, 64k clusters), refcount table entry 0 zeroed: full rebuild" ;;
    leaks-4k)
        make_image frag-4k
        DAMAGE=damage_l1_half
        DESC="frag-4k (64 GiB, 4k clusters, 250k random ops), every other L1 entry cleared: ~130k leaked clusters" ;;
    *) bench_die "unknown case '$1' (known: ${ALL_CASES[*]})" ;;
    esac
    SRC_IMAGE=$BENCH_IMAGE
}

# measure_fresh TOOL...: like bench_measure BENCH_RUNS, but every run gets a
# fresh copy of the damaged image ($WORK, re-copied before each run, untimed)
# as its last argument. Sets BENCH_TIME, BENCH_CPU, BENCH_RSS, BENCH_TIMES.
measure_fresh() {
    local best="" cpu="" rss=0 times=() run
    for ((run = 0; run < BENCH_RUNS; run++)); do
        cp --sparse=always "$DAMAGED" "$WORK"
        sync "$WORK"
        bench_measure 1 "$@" "$WORK"
        times+=("$BENCH_TIME")
        if [ -z "$best" ] || ! bench_at_least "$BENCH_TIME" "$best"; then best=$BENCH_TIME; fi
        if [ -z "$cpu" ] || ! bench_at_least "$BENCH_CPU" "$cpu"; then cpu=$BENCH_CPU; fi
        [ "$BENCH_RSS" -le "$rss" ] || rss=$BENCH_RSS
    done
    BENCH_TIME=$best BENCH_CPU=$cpu BENCH_RSS=$rss BENCH_TIMES="${times[*]}"
}

# same_guest BEFORE AFTER: the guest views agree. qemu-img compare where the
# data is small; for the 1 TiB preallocated image (reading a TiB of holes
# takes minutes) the guest-to-host mappings, which a refcount repair must not
# change, and the check is clean, so no mapped cluster was freed.
same_guest() {
    if [ "$1" = "$BENCH_DIR/images/repair-rebuild-1t.damaged.qcow2" ]; then
        cmp -s <(qemu-img map --output=json "$1") <(qemu-img map --output=json "$2")
    else
        qemu-img compare -q "$1" "$2"
    fi
}

# --- main --------------------------------------------------------------------
bench_require
bench_build tools/imgmend-repair tools/imgmend-check tests/tools/poke
REPAIR="$IMGMEND_BIN/imgmend-repair"
CHECK="$IMGMEND_BIN/imgmend-check"
POKE="$IMGMEND_BIN/../tests/tools/poke"
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=("${ALL_CASES[@]}")

ROW='%-12s %10s %10s %7s %10s %10s %9s %10s %10s %12s\n'
rows=()
descs=()
slow=()
for name in "${cases[@]}"; do
    describe_case "$name"
    DAMAGED="$BENCH_DIR/images/repair-$name.damaged.qcow2"
    WORK="$BENCH_DIR/images/repair-$name.work.qcow2"
    q_out="$BENCH_DIR/images/repair-$name.qemu-img.qcow2"
    i_out="$BENCH_DIR/images/repair-$name.imgmend.qcow2"
    bench_log "$name: damaging a copy of $(basename "$SRC_IMAGE") ..."
    "$DAMAGE" "$SRC_IMAGE" "$DAMAGED"

    # One checked run of each (also warms the page cache).
    bench_log "$name: checking both repairs once ..."
    cp --sparse=always "$DAMAGED" "$q_out"
    cp --sparse=always "$DAMAGED" "$i_out"
    qemu-img check -r all --output=json "$q_out" >"$BENCH_DIR/out/repair-$name.qemu-img.json" 2>/dev/null ||
        bench_die "qemu-img check -r all failed on $q_out"
    "$REPAIR" -r all --output=json "$i_out" >"$BENCH_DIR/out/repair-$name.imgmend.json" 2>/dev/null ||
        bench_die "imgmend-repair -r all failed on $i_out"
    qemu-img check -q "$q_out" || bench_die "qemu-img's repair does not check clean: $q_out"
    qemu-img check -q "$i_out" || bench_die "imgmend-repair's result does not check clean: $i_out"
    same_guest "$DAMAGED" "$q_out" || bench_die "qemu-img's repair changed the guest view"
    same_guest "$DAMAGED" "$i_out" || bench_die "imgmend-repair changed the guest view"
    fixed() { jq -r '"leaks-fixed \(.["leaks-fixed"] // 0), corruptions-fixed \(.["corruptions-fixed"] // 0)"' "$1"; }
    bench_log "$name: both clean, guest view unchanged; qemu-img $(fixed "$BENCH_DIR/out/repair-$name.qemu-img.json");" \
        "imgmend $(fixed "$BENCH_DIR/out/repair-$name.imgmend.json")"

    bench_check_idle
    measure_fresh qemu-img check -r all
    q_time=$BENCH_TIME q_cpu=$BENCH_CPU q_rss=$BENCH_RSS
    measure_fresh "$REPAIR" -r all
    i_time=$BENCH_TIME i_cpu=$BENCH_CPU i_rss=$BENCH_RSS
    # The check phase alone: imgmend-check on the damaged image (read-only).
    bench_measure "$BENCH_RUNS" bash -c '"$1" "$2" >/dev/null 2>&1; [ $? -le 3 ]' _ "$CHECK" "$DAMAGED"
    c_time=$BENCH_TIME c_cpu=$BENCH_CPU
    rm -f "$WORK" "$q_out" "$i_out" "$DAMAGED"

    ratio=$(bench_ratio "$q_time" "$i_time")
    cpu_ratio=$(bench_ratio "$q_cpu" "$i_cpu")
    share=$(awk -v c="$c_cpu" -v t="$i_cpu" 'BEGIN { printf "%.0f%%", (t > 0 ? 100 * c / t : 0) }')
    bench_at_least "$ratio" "$BENCH_REPAIR_MIN_RATIO" || slow+=("$name (${ratio}x)")
    rows+=("$(printf "$ROW" "$name" "$(bench_fmt_secs "$q_time")" "$(bench_fmt_secs "$i_time")" "${ratio}x" \
        "$(bench_fmt_secs "$q_cpu")" "$(bench_fmt_secs "$i_cpu")" "${cpu_ratio}x" \
        "$(bench_fmt_kib "$q_rss")" "$(bench_fmt_kib "$i_rss")" "$(bench_fmt_secs "$c_cpu") $share")")
    descs+=("$(printf '  %-12s %s' "$name" "$DESC")")
done

echo
echo "imgmend-repair -r all vs qemu-img check -r all: best wall time and least CPU time (user+sys) of $BENCH_RUNS runs,"
echo "each on a fresh damaged copy; ratio = qemu-img / imgmend; check = CPU time of imgmend-check alone on the"
echo "damaged image, and its share of our repair's CPU time"
printf "$ROW" case "qemu wall" "ours wall" ratio "qemu CPU" "ours CPU" "CPU ratio" "qemu RSS" "ours RSS" "check"
printf '%s\n' "${rows[@]}"
echo "cases:"
printf '%s\n' "${descs[@]}"
if [ ${#slow[@]} -gt 0 ]; then
    echo "FAIL: imgmend-repair is less than ${BENCH_REPAIR_MIN_RATIO}x faster on: ${slow[*]}"
    exit 1
fi
echo "OK: imgmend-repair is at least ${BENCH_REPAIR_MIN_RATIO}x faster in every case"
