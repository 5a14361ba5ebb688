#!/bin/bash
# imgmend-check versus qemu-img check on the same images.
#   bench/check.sh [IMAGE...]     (default: prealloc-1t snap-50 frag-64k)
# Checks once per image that both give the same JSON (our "findings" array
# aside), then times each tool BENCH_RUNS times and prints best wall time,
# CPU time, speed-up and peak RSS, and the floor: the time it takes merely to
# read every metadata table once (build/tests/tools/read_metadata), and how
# many floors each checker takes. Exits 1 when, on any image, imgmend takes
# more than 2 floors, more peak RSS than qemu-img, or is less than
# BENCH_MIN_RATIO times faster than qemu-img where that is reachable at all:
# where qemu-img itself takes less than BENCH_MIN_RATIO floors (small images
# whose check is mostly reading), no checker can be that much faster, and the
# ratio is printed but not required.
# shellcheck source-path=SCRIPTDIR disable=SC2059  # $ROW is the table format
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/images.sh"

bench_require
bench_build tools/imgmend-check
CHECK="$IMGMEND_BIN/imgmend-check"
FLOOR="$IMGMEND_BIN/../tests/tools/read_metadata"
[ -x "$FLOOR" ] || ninja -C "$IMGMEND_BIN/.." tests/tools/read_metadata >/dev/null
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(prealloc-1t snap-50 frag-64k)

ROW='%-12s %10s %10s %7s %10s %10s %9s %10s %10s %10s %7s %7s\n'
rows=()
descs=()
slow=()
for name in "${images[@]}"; do
    make_image "$name"
    img=$BENCH_IMAGE
    q=$(qemu-img check --output=json "$img" | jq -S 'del(.filename)') || bench_die "qemu-img check failed on $img"
    o=$("$CHECK" --output=json "$img" | jq -S 'del(.filename, .findings)') || bench_die "imgmend-check failed on $img"
    [ "$q" = "$o" ] || { diff <(echo "$q") <(echo "$o") >&2; bench_die "check results differ on $name"; }
    bench_log "$name: identical results"

    bench_check_idle
    bench_measure "$BENCH_RUNS" qemu-img check "$img"
    q_time=$BENCH_TIME q_cpu=$BENCH_CPU q_rss=$BENCH_RSS
    bench_measure "$BENCH_RUNS" "$CHECK" "$img"
    i_time=$BENCH_TIME i_cpu=$BENCH_CPU i_rss=$BENCH_RSS
    bench_measure "$BENCH_RUNS" "$FLOOR" "$img"
    f_time=$BENCH_TIME

    ratio=$(bench_ratio "$q_time" "$i_time")
    cpu_ratio=$(bench_ratio "$q_cpu" "$i_cpu")
    q_floors=$(bench_ratio "$q_time" "$f_time")
    i_floors=$(bench_ratio "$i_time" "$f_time")
    if bench_at_least "$q_floors" "$BENCH_MIN_RATIO"; then
        bench_at_least "$ratio" "$BENCH_MIN_RATIO" || slow+=("$name: ${ratio}x faster, not ${BENCH_MIN_RATIO}x")
    else
        bench_log "$name: qemu-img takes only ${q_floors} floors: ${BENCH_MIN_RATIO}x is out of anyone's reach here"
    fi
    bench_at_least 2 "$i_floors" || slow+=("$name: ${i_floors} floors, not 2 at most")
    [ "$i_rss" -le "$q_rss" ] || slow+=("$name: peak RSS above qemu-img's")
    rows+=("$(printf "$ROW" "$name" "$(bench_fmt_secs "$q_time")" "$(bench_fmt_secs "$i_time")" "${ratio}x" \
        "$(bench_fmt_secs "$q_cpu")" "$(bench_fmt_secs "$i_cpu")" "${cpu_ratio}x" \
        "$(bench_fmt_kib "$q_rss")" "$(bench_fmt_kib "$i_rss")" "$(bench_fmt_secs "$f_time")" \
        "${q_floors}" "${i_floors}")")
    descs+=("$(printf '  %-12s %s' "$name" "$DESC")")
done

echo
echo "imgmend-check vs qemu-img check: best wall time and least CPU time (user+sys) of $BENCH_RUNS runs;"
echo "ratio = qemu-img / imgmend; floor = reading every table once (wall); floors = wall time / floor"
printf "$ROW" image "qemu wall" "ours wall" ratio "qemu CPU" "ours CPU" "CPU ratio" "qemu RSS" "ours RSS" floor \
    "qemu fl" "ours fl"
printf '%s\n' "${rows[@]}"
echo "images:"
printf '%s\n' "${descs[@]}"
if [ ${#slow[@]} -gt 0 ]; then
    printf 'FAIL: %s\n' "${slow[@]}"
    exit 1
fi
echo "OK: within 2 floors and no more memory than qemu-img on every image, and ${BENCH_MIN_RATIO}x faster wherever reachable"
