#!/bin/bash
# imgmend-rebase versus `qemu-img rebase` (safe mode) on the same chains.
#   bench/rebase.sh [CASE...]     (default: all cases below)
# Every timed run works on a fresh copy of the same overlay (the copy is not
# timed). Checks once per case that both results keep the guest view (they
# equal each other and the original overlay's) and check clean, then prints
# best wall time, speed-up, CPU time and peak RSS of each tool. Exits 1 when
# imgmend is less than BENCH_REBASE_MIN_RATIO (default 3) times faster (wall
# time) in any case. See bench/README.md.
# shellcheck source-path=SCRIPTDIR disable=SC2059  # $ROW is the table format
. "$(dirname "$0")/lib.sh"

BENCH_REBASE_MIN_RATIO=${BENCH_REBASE_MIN_RATIO:-3}
BENCH_REBASE_SIZE=${BENCH_REBASE_SIZE:-6G}
ALL_CASES=(new-backing in-chain flatten)

# --- generators (each gets the path to create as its last argument) ---------

# scatter_cmds SIZE EXTENTS MIN MAX SEED PATTERN_BASE [DISCARD_PERCENT]:
# qemu-io commands writing EXTENTS extents of MIN..MAX bytes (64k-aligned
# starts and lengths) at random places of a SIZE-byte image, each with its
# own pattern (PATTERN_BASE + index), a share of them discards instead.
scatter_cmds() {
    python3 - "$@" <<'EOF'
import random, sys
size, extents, lo, hi, seed, base = map(int, sys.argv[1:7])
discard = int(sys.argv[7]) if len(sys.argv) > 7 else 0
rng = random.Random(seed)
k = 65536
for i in range(extents):
    length = rng.randrange(lo // k, hi // k + 1) * k
    start = rng.randrange(0, (size - length) // k) * k
    if rng.randrange(100) < discard:
        print(f"discard {start} {length}")
    else:
        print(f"write -P {(base + i) % 255 + 1} {start} {length}")
EOF
}

# run_qemu_io PATH < CMDS: one qemu-io process, cache=unsafe, no overlap
# checks (see bench/map.sh); fails on any error line.
run_qemu_io() {
    local path=$1 log="$1.log" opts
    opts="driver=qcow2,file.filename=$(bench_qemu_opts_path "$path"),overlap-check=none,l2-cache-size=16M"
    qemu-io -t unsafe --image-opts "$opts" >"$log" 2>&1 || { tail -n 20 "$log" >&2; return 1; }
    if grep -Eiq 'error|fail|invalid' "$log"; then
        grep -Ei 'error|fail|invalid' "$log" | head -n 20 >&2
        return 1
    fi
    rm -f "$log"
}

# gen_base SIZE PATH: SIZE bytes, 64k clusters, ~1/4 of it data in
# 64k..2M extents scattered over the whole disk.
gen_base() {
    local size=$1 path=$2 bytes extents
    bytes=$(numfmt --from=iec "$size")
    extents=$((bytes / 4 / (1088 << 10)))
    qemu-img create -q -f qcow2 "$path" "$size"
    scatter_cmds "$bytes" "$extents" 65536 $((2 << 20)) 11 0 | run_qemu_io "$path"
    qemu-img check -q "$path" >&2
}

# gen_new BASE SIZE PATH: a copy of BASE (so most data is shared) in which
# ~4% of the disk is rewritten with other data and ~1% discarded.
gen_new() {
    local base=$1 size=$2 path=$3 bytes
    bytes=$(numfmt --from=iec "$size")
    cp "$base" "$path"
    scatter_cmds "$bytes" $((bytes / 25 / (544 << 10))) 65536 $((1 << 20)) 12 100 20 | run_qemu_io "$path"
    qemu-img check -q "$path" >&2
}

# gen_overlay BACKING_NAME SIZE EXTENTS SEED PATH: an overlay over
# BACKING_NAME (a name relative to the images folder) with EXTENTS scattered
# writes of 64k..256k.
gen_overlay() {
    local backing=$1 size=$2 extents=$3 seed=$4 path=$5 bytes
    bytes=$(numfmt --from=iec "$size")
    qemu-img create -q -f qcow2 -b "$backing" -F qcow2 "$path" "$size"
    scatter_cmds "$bytes" "$extents" 65536 $((256 << 10)) "$seed" 200 | run_qemu_io "$path"
    qemu-img check -q "$path" >&2
}

# make_chain: the cached images of every case, named rebase-*.
make_chain() {
    local size=$BENCH_REBASE_SIZE spec="size $BENCH_REBASE_SIZE v1"
    bench_image rebase-base "base $spec" gen_base "$size"
    bench_image rebase-new "new $spec" gen_new "$BENCH_DIR/images/rebase-base.qcow2" "$size"
    bench_image rebase-top "top $spec" gen_overlay rebase-base.qcow2 "$size" 3000 13
    bench_image rebase-mid "mid $spec" gen_overlay rebase-base.qcow2 "$size" 3000 14
    bench_image rebase-top-mid "top-mid $spec" gen_overlay rebase-mid.qcow2 "$size" 1500 15
}

# describe_case NAME: sets OVERLAY (a cached image), ARGS (rebase options)
# and DESC.
describe_case() {
    case "$1" in
    new-backing)
        OVERLAY=rebase-top ARGS=(-b rebase-new.qcow2 -F qcow2)
        DESC="overlay (3000 writes) over base ($BENCH_REBASE_SIZE, ~1/4 data) onto new (base with ~4% rewritten)" ;;
    in-chain)
        OVERLAY=rebase-top-mid ARGS=(-b rebase-base.qcow2 -F qcow2)
        DESC="base <- mid (3000 writes) <- top (1500 writes): top onto base, dropping mid" ;;
    flatten)
        OVERLAY=rebase-top ARGS=(-b "")
        DESC="overlay over base flattened (-b \"\")" ;;
    *) bench_die "unknown case '$1' (known: ${ALL_CASES[*]})" ;;
    esac
}

# measure_fresh TOOL...: like bench_measure BENCH_RUNS, but every run gets a
# fresh copy of the overlay ($WORK, re-copied before each run, untimed) as
# its last argument. Sets BENCH_TIME, BENCH_CPU, BENCH_RSS, BENCH_TIMES.
measure_fresh() {
    local best="" cpu="" rss=0 times=() run
    for ((run = 0; run < BENCH_RUNS; run++)); do
        cp "$SRC" "$WORK"
        sync "$WORK"
        bench_measure 1 "$@" "$WORK"
        times+=("$BENCH_TIME")
        if [ -z "$best" ] || ! bench_at_least "$BENCH_TIME" "$best"; then best=$BENCH_TIME; fi
        if [ -z "$cpu" ] || ! bench_at_least "$BENCH_CPU" "$cpu"; then cpu=$BENCH_CPU; fi
        [ "$BENCH_RSS" -le "$rss" ] || rss=$BENCH_RSS
    done
    BENCH_TIME=$best BENCH_CPU=$cpu BENCH_RSS=$rss BENCH_TIMES="${times[*]}"
}

# --- main --------------------------------------------------------------------

bench_require
command -v numfmt >/dev/null || bench_die "numfmt (coreutils) not found"
bench_build tools/imgmend-rebase
REBASE="$IMGMEND_BIN/imgmend-rebase"
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=("${ALL_CASES[@]}")
make_chain
IMG="$BENCH_DIR/images"

ROW='%-12s %10s %10s %7s %10s %10s %9s %10s %10s\n'
rows=()
descs=()
slow=()
for name in "${cases[@]}"; do
    describe_case "$name"
    SRC="$IMG/$OVERLAY.qcow2"
    # The work copies live beside the chain: the backing names are relative.
    WORK="$IMG/work-$name.qcow2"
    q_out="$IMG/out-$name.qemu-img.qcow2"
    i_out="$IMG/out-$name.imgmend.qcow2"
    before="$BENCH_DIR/out/$name.before.raw"

    # One checked run of each (also warms the page cache).
    bench_log "$name: checking both results once ..."
    qemu-img convert -O raw "$SRC" "$before" || bench_die "qemu-img convert $SRC"
    cp "$SRC" "$q_out"
    cp "$SRC" "$i_out"
    qemu-img rebase "${ARGS[@]}" "$q_out" || bench_die "qemu-img rebase ${ARGS[*]} failed"
    "$REBASE" "${ARGS[@]}" "$i_out" || bench_die "imgmend-rebase ${ARGS[*]} failed"
    qemu-img check -q "$i_out" || bench_die "qemu-img check $i_out is not clean"
    qemu-img compare -q "$q_out" "$i_out" || bench_die "qemu-img and imgmend results differ: $q_out $i_out"
    qemu-img compare -q -f raw "$before" "$i_out" || bench_die "imgmend-rebase changed the guest view of $SRC"
    q_alloc=$(qemu-img check --output=json "$q_out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["allocated-clusters"])')
    i_alloc=$(qemu-img check --output=json "$i_out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["allocated-clusters"])')
    bench_log "$name: results identical; clusters allocated in the overlay: qemu-img $q_alloc, imgmend $i_alloc"
    rm -f "$before" "$q_out" "$i_out"

    bench_check_idle
    measure_fresh qemu-img rebase "${ARGS[@]}"
    q_time=$BENCH_TIME q_cpu=$BENCH_CPU q_rss=$BENCH_RSS
    bench_log "$name: qemu-img wall times: $BENCH_TIMES s"
    measure_fresh "$REBASE" "${ARGS[@]}"
    i_time=$BENCH_TIME i_cpu=$BENCH_CPU i_rss=$BENCH_RSS
    bench_log "$name: imgmend wall times:  $BENCH_TIMES s"
    rm -f "$WORK"

    ratio=$(bench_ratio "$q_time" "$i_time")
    cpu_ratio=$(bench_ratio "$q_cpu" "$i_cpu")
    bench_at_least "$ratio" "$BENCH_REBASE_MIN_RATIO" || slow+=("$name (${ratio}x)")
    rows+=("$(printf "$ROW" "$name" "$(bench_fmt_secs "$q_time")" "$(bench_fmt_secs "$i_time")" \
        "${ratio}x" "$(bench_fmt_secs "$q_cpu")" "$(bench_fmt_secs "$i_cpu")" "${cpu_ratio}x" \
        "$(bench_fmt_kib "$q_rss")" "$(bench_fmt_kib "$i_rss")")")
    descs+=("$(printf '  %-12s %s' "$name" "$DESC")")
done

echo
echo "imgmend-rebase vs qemu-img rebase (safe mode), fresh overlay copy per run: best wall time and"
echo "least CPU time (user+sys) of $BENCH_RUNS runs each; ratio = qemu-img / imgmend; peak RSS = largest"
echo "max RSS over the runs${BENCH_NICE:+; at nice $BENCH_NICE}"
printf "$ROW" case "qemu wall" "ours wall" ratio "qemu CPU" "ours CPU" "CPU ratio" "qemu RSS" "ours RSS"
printf '%s\n' "${rows[@]}"
echo "cases:"
printf '%s\n' "${descs[@]}"
if [ ${#slow[@]} -gt 0 ]; then
    echo "FAIL: imgmend-rebase is less than ${BENCH_REBASE_MIN_RATIO}x faster on: ${slow[*]}"
    exit 1
fi
echo "OK: imgmend-rebase is at least ${BENCH_REBASE_MIN_RATIO}x faster in every case"
