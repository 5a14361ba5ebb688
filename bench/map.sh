#!/bin/bash
# imgmend-map versus `qemu-img map --output=json` on the same images.
#   bench/map.sh [IMAGE...]     (default: all images below)
# Checks once per image that both JSON outputs are identical (after dropping
# our extra "compressed" key), then times each tool BENCH_RUNS times and
# prints best wall time, speed-up and peak RSS. Exits 1 when imgmend is less
# than BENCH_MIN_RATIO times faster on any image. See bench/README.md.
# shellcheck source-path=SCRIPTDIR disable=SC2059  # $ROW is the table format
. "$(dirname "$0")/lib.sh"

ALL_IMAGES=(prealloc-1t frag-4k frag-64k)

. "$(dirname "$0")/images.sh"

# --- main --------------------------------------------------------------------

bench_require
bench_build tools/imgmend-map
MAP="$IMGMEND_BIN/imgmend-map"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=("${ALL_IMAGES[@]}")

ROW='%-12s %8s %10s %10s %7s %10s %10s %9s %10s %10s\n'
rows=()
descs=()
slow=()
for name in "${images[@]}"; do
    make_image "$name"
    img=$BENCH_IMAGE

    # One checked run of each; also warms the page cache for the timed runs.
    qj="$BENCH_DIR/out/$name.qemu-img.json"
    oj="$BENCH_DIR/out/$name.imgmend.json"
    qemu-img map --output=json "$img" >"$qj" || bench_die "qemu-img map failed on $img"
    "$MAP" --output=json "$img" >"$oj.raw" || bench_die "imgmend-map failed on $img"
    sed -E 's/, "compressed": (true|false)//' "$oj.raw" >"$oj"
    rm -f "$oj.raw"
    if ! cmp -s "$qj" "$oj"; then
        echo "bench: ERROR: imgmend-map and qemu-img map disagree on $name ($img):" >&2
        diff "$qj" "$oj" | head -n 40 >&2 || true
        bench_die "outputs differ: see $qj and $oj"
    fi
    extents=$(grep -c '"start"' "$qj" || true)
    bench_log "$name: outputs identical ($extents extents)"

    bench_check_idle
    bench_measure "$BENCH_RUNS" qemu-img map --output=json "$img"
    q_time=$BENCH_TIME q_cpu=$BENCH_CPU q_rss=$BENCH_RSS
    bench_log "$name: qemu-img wall times: $BENCH_TIMES s"
    bench_measure "$BENCH_RUNS" "$MAP" --output=json "$img"
    i_time=$BENCH_TIME i_cpu=$BENCH_CPU i_rss=$BENCH_RSS
    bench_log "$name: imgmend wall times:  $BENCH_TIMES s"

    ratio=$(bench_ratio "$q_time" "$i_time")
    cpu_ratio=$(bench_ratio "$q_cpu" "$i_cpu")
    bench_at_least "$ratio" "$BENCH_MIN_RATIO" || slow+=("$name (${ratio}x)")
    rows+=("$(printf "$ROW" "$name" "$extents" "$(bench_fmt_secs "$q_time")" "$(bench_fmt_secs "$i_time")" \
        "${ratio}x" "$(bench_fmt_secs "$q_cpu")" "$(bench_fmt_secs "$i_cpu")" "${cpu_ratio}x" \
        "$(bench_fmt_kib "$q_rss")" "$(bench_fmt_kib "$i_rss")")")
    descs+=("$(printf '  %-12s %s' "$name" "$DESC")")
done

echo
echo "imgmend-map vs qemu-img map --output=json: best wall time and least CPU time (user+sys) of"
echo "$BENCH_RUNS runs each; ratio = qemu-img / imgmend; peak RSS = largest max RSS over the runs${BENCH_NICE:+; at nice $BENCH_NICE}"
printf "$ROW" image extents "qemu wall" "ours wall" ratio "qemu CPU" "ours CPU" "CPU ratio" "qemu RSS" "ours RSS"
printf '%s\n' "${rows[@]}"
echo "images:"
printf '%s\n' "${descs[@]}"
if [ ${#slow[@]} -gt 0 ]; then
    echo "FAIL: imgmend-map is less than ${BENCH_MIN_RATIO}x faster on: ${slow[*]}"
    exit 1
fi
echo "OK: imgmend-map is at least ${BENCH_MIN_RATIO}x faster on every image"
