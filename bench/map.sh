#!/bin/bash
# imgmend-map versus `qemu-img map --output=json` on the same images.
#   bench/map.sh [IMAGE...]     (default: all images below)
# Checks once per image that both JSON outputs are identical (after dropping
# our extra "compressed" key), then times each tool BENCH_RUNS times and
# prints best wall time, speed-up and peak RSS. Exits 1 when imgmend is less
# than BENCH_MIN_RATIO times faster on any image. See bench/README.md.
. "$(dirname "$0")/lib.sh"

ALL_IMAGES=(prealloc-1t frag-4k frag-64k)

# --- generators (each gets the path to create as its last argument) ---------

gen_prealloc() { # SIZE PATH
    qemu-img create -q -f qcow2 -o preallocation=metadata "$2" "$1"
}

# gen_frag SIZE CLUSTER OPS ZERO_PERCENT SEED PATH: a qcow2 image of SIZE
# bytes where OPS distinct clusters, picked at random, are written in random
# order (so neither guest nor host order helps): ZERO_PERCENT of them with
# `write -z` (zero flag, no data), the rest with 4 KiB of data. Every op is
# an extent of its own, surrounded by unallocated space. qemu-io reads the
# commands from stdin in one process with cache=unsafe and overlap checks off,
# which makes ~250k writes take seconds rather than hours.
gen_frag() {
    local size=$1 cluster=$2 ops=$3 zero_pct=$4 seed=$5 path=$6
    local cmds="$path.cmds" log="$path.log"
    qemu-img create -q -f qcow2 -o cluster_size="$cluster" "$path" "$size"
    python3 - "$size" "$cluster" "$ops" "$zero_pct" "$seed" >"$cmds" <<'EOF'
import random, sys
size, cluster, ops, zero_pct, seed = map(int, sys.argv[1:])
rng = random.Random(seed)
out = []
for i, c in enumerate(rng.sample(range(size // cluster), ops)):
    if rng.randrange(100) < zero_pct:
        out.append(f"write -z {c * cluster} {cluster}")
    else:
        out.append(f"write -P {1 + i % 255} {c * cluster} 4096")
sys.stdout.write("\n".join(out) + "\n")
EOF
    local opts="driver=qcow2,file.filename=$(bench_qemu_opts_path "$path"),overlap-check=none,l2-cache-size=4M"
    qemu-io -t unsafe --image-opts "$opts" <"$cmds" >"$log" 2>&1 || {
        tail -n 20 "$log" >&2
        return 1
    }
    if grep -Eiq 'error|fail|invalid' "$log"; then
        grep -Ei 'error|fail|invalid' "$log" | head -n 20 >&2
        return 1
    fi
    rm -f "$cmds" "$log"
    qemu-img check -q "$path" >&2
}

# make_image NAME: sets BENCH_IMAGE and DESC for one named image.
make_image() {
    case "$1" in
    prealloc-1t)
        DESC="1 TiB, preallocation=metadata"
        bench_image "$1" "prealloc 1T" gen_prealloc 1T ;;
    frag-4k)
        DESC="64 GiB, 4k clusters, 250k random ops"
        bench_image "$1" "frag 64G c4k ops250000 z10 s1" gen_frag $((64 << 30)) 4096 250000 10 1 ;;
    frag-64k)
        DESC="1 TiB, 64k clusters, 150k random ops"
        bench_image "$1" "frag 1T c64k ops150000 z80 s2" gen_frag $((1 << 40)) 65536 150000 80 2 ;;
    *) bench_die "unknown image '$1' (known: ${ALL_IMAGES[*]})" ;;
    esac
}

# --- main --------------------------------------------------------------------

bench_require
bench_build
MAP="$IMGMEND_BIN/imgmend-map"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=("${ALL_IMAGES[@]}")

rows=()
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

    bench_measure "$BENCH_RUNS" qemu-img map --output=json "$img"
    q_time=$BENCH_TIME q_rss=$BENCH_RSS
    bench_log "$name: qemu-img runs: $BENCH_TIMES s"
    bench_measure "$BENCH_RUNS" "$MAP" --output=json "$img"
    i_time=$BENCH_TIME i_rss=$BENCH_RSS
    bench_log "$name: imgmend runs:  $BENCH_TIMES s"

    ratio=$(bench_ratio "$q_time" "$i_time")
    bench_at_least "$ratio" "$BENCH_MIN_RATIO" || slow+=("$name (${ratio}x)")
    rows+=("$(printf '%-12s %-38s %9s %11s %11s %8s %13s %13s' "$name" "$DESC" "$extents" \
        "$(bench_fmt_secs "$q_time")" "$(bench_fmt_secs "$i_time")" "${ratio}x" \
        "$(bench_fmt_kib "$q_rss")" "$(bench_fmt_kib "$i_rss")")")
done

echo
echo "imgmend-map vs qemu-img map --output=json (best of $BENCH_RUNS wall time, peak RSS = max over runs)"
printf '%-12s %-38s %9s %11s %11s %8s %13s %13s\n' image description extents qemu-img imgmend ratio \
    "qemu-img RSS" "imgmend RSS"
printf '%s\n' "${rows[@]}"
if [ ${#slow[@]} -gt 0 ]; then
    echo "FAIL: imgmend-map is less than ${BENCH_MIN_RATIO}x faster on: ${slow[*]}"
    exit 1
fi
echo "OK: imgmend-map is at least ${BENCH_MIN_RATIO}x faster on every image"
