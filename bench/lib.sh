# shellcheck shell=bash disable=SC2034  # globals are set here for the scripts
# Shared helpers for the benchmark scripts; source it first:
#   . "$(dirname "$0")/lib.sh"
#
# Environment:
#   BENCH_DIR        work directory for cached images and outputs
#                    (default /var/tmp/imgmend-bench; needs a few GiB free)
#   BENCH_RUNS       timed runs per command; the best wall time is kept (default 5)
#   BENCH_MIN_RATIO  speed-up imgmend must reach on every image (default 10)
#   GNU_TIME         GNU time binary used for peak RSS (default /usr/bin/time)
#   BENCH_NICE       if set, timed runs use `nice -n BENCH_NICE` (e.g. -10 as
#                    root, so other load on a shared machine disturbs them less)
#
# Peak RSS comes from GNU time's %M (the child's ru_maxrss). Python's
# resource/os.wait4 figures are NOT used for it: when a child is spawned from
# python, Linux carries python's own high-water mark (10+ MiB) into the child's
# ru_maxrss at exec, which would hide a small tool's real peak. GNU time forks
# from a ~1 MiB process, so its floor is ~1 MiB. scripts/setup installs it.
set -euo pipefail

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/imgmend-bench}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_MIN_RATIO=${BENCH_MIN_RATIO:-10}
BENCH_NICE=${BENCH_NICE:-}
GNU_TIME=${GNU_TIME:-/usr/bin/time}

bench_log() { echo "bench: $*" >&2; }
bench_die() {
    echo "bench: ERROR: $*" >&2
    exit 1
}

# bench_require: the tools every benchmark needs, and the work directory.
bench_require() {
    local c
    for c in qemu-img qemu-io python3; do
        command -v "$c" >/dev/null || bench_die "$c not found (run scripts/setup)"
    done
    "$GNU_TIME" --version 2>&1 | grep -q 'GNU' ||
        bench_die "GNU time not found at $GNU_TIME (run scripts/setup, or set GNU_TIME)"
    [[ "$BENCH_RUNS" =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_RUNS must be a positive integer"
    [[ -z "$BENCH_NICE" || "$BENCH_NICE" =~ ^-?[0-9]+$ ]] || bench_die "BENCH_NICE must be an integer"
    mkdir -p "$BENCH_DIR/images" "$BENCH_DIR/out"
}

# bench_check_idle: warns when other processes keep the CPUs busy (sampled
# over one second while the benchmark itself is idle).
bench_check_idle() {
    local busy
    busy=$(python3 -c '
import time
def sample():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f), f[3] + f[4]  # total, idle + iowait
t0, i0 = sample(); time.sleep(1); t1, i1 = sample()
print(round(100 * (1 - (i1 - i0) / max(1, t1 - t0))))')
    if [ "$busy" -gt 15 ]; then
        bench_log "WARNING: the CPUs are ${busy}% busy before the timed runs: wall times will be" \
            "inflated; compare the CPU-time columns, or rerun on an idle machine"
        top -b -n 1 -w 120 2>/dev/null | sed -n '7,11p' | sed 's/^/bench:   /' >&2 || true
    fi
}

# bench_build TARGET...: builds the release build with scripts/build and sets
# IMGMEND_BIN (its tools directory). If the full build fails (say, a unit test
# being edited does not compile) it warns and builds only TARGETs (ninja
# target names such as tools/imgmend-map), which must succeed.
bench_build() {
    local dir buildtype log="$BENCH_DIR/build.log"
    if "$BENCH_REPO/scripts/build" release >"$log" 2>&1; then
        dir=$(tail -n 1 "$log")
    else
        dir=build
        [ -f "$BENCH_REPO/$dir/build.ninja" ] || { cat "$log" >&2; bench_die "scripts/build release failed"; }
        bench_log "WARNING: scripts/build release failed (see $log); building only $*"
        ninja -C "$BENCH_REPO/$dir" "$@" >>"$log" 2>&1 ||
            { tail -n 30 "$log" >&2; bench_die "building $* failed"; }
    fi
    IMGMEND_BIN="$BENCH_REPO/$dir/tools"
    buildtype=$(python3 -c '
import json, sys
for o in json.load(open(sys.argv[1])):
    if o["name"] == "buildtype":
        print(o["value"])' "$BENCH_REPO/$dir/meson-info/intro-buildoptions.json")
    [ "$buildtype" = release ] ||
        bench_die "$dir is configured as buildtype=$buildtype, not release (remove $dir and rerun)"
}

# bench_image NAME SPEC GENERATOR [ARGS...]: sets BENCH_IMAGE to a cached image.
# The image is regenerated (GENERATOR TMP_PATH ARGS...) when missing or when
# its SPEC (any string describing the parameters) or the qemu version changed.
bench_image() {
    local name=$1 spec=$2
    shift 2
    local img="$BENCH_DIR/images/$name.qcow2"
    local full_spec
    full_spec="$spec; $(qemu-img --version | head -n1)"
    BENCH_IMAGE=$img
    if [ -f "$img" ] && [ -f "$img.spec" ] && [ "$(cat "$img.spec")" = "$full_spec" ]; then
        bench_log "using cached $img"
        return 0
    fi
    rm -f "$img" "$img.spec"
    local tmp="$BENCH_DIR/images/.$name.tmp.$$.qcow2"
    rm -f "$tmp"
    bench_log "generating $name ($spec) ..."
    local t0=$EPOCHREALTIME
    if ! "$@" "$tmp"; then
        rm -f "$tmp"
        bench_die "generating $name failed"
    fi
    sync "$tmp" # no writeback of it during the timed runs
    mv -f "$tmp" "$img"
    printf '%s\n' "$full_spec" >"$img.spec"
    bench_log "generated $name in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

# bench_qemu_opts_path PATH: PATH escaped for a qemu option string.
bench_qemu_opts_path() { printf '%s' "${1//,/,,}"; }

# bench_measure RUNS CMD...: runs CMD (stdout to /dev/null) RUNS times.
# Sets BENCH_TIME (best wall seconds), BENCH_TIMES (all wall times, space
# separated), BENCH_CPU (least user+system CPU seconds of a run) and BENCH_RSS
# (largest peak RSS over the runs, KiB). Fails if CMD fails. CPU time is
# reported too because wall time is only meaningful on an otherwise idle
# machine (2 cores here: one busy neighbour shows up in every wall time).
bench_measure() {
    local runs=$1
    shift
    local res
    res=$(python3 - "$runs" "$GNU_TIME" "$BENCH_NICE" "$@" <<'EOF'
import os, subprocess, sys, tempfile, time

runs, gnu_time, nice, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
prefix = ["nice", "-n", nice] if nice else []
fd, rss_file = tempfile.mkstemp(prefix="imgmend-bench-rss-")
os.close(fd)
times, cpus, rss = [], [], 0
try:
    with tempfile.TemporaryFile() as err:
        for _ in range(runs):
            err.seek(0)
            err.truncate()
            t0 = time.perf_counter()
            p = subprocess.Popen(prefix + [gnu_time, "-f", "%M", "-o", rss_file, "--"] + cmd,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            # wait4 rather than p.wait(): it also returns the CPU time, which
            # includes the measured command's (GNU time has reaped it).
            _, status, ru = os.wait4(p.pid, 0)
            t1 = time.perf_counter()
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                err.seek(0)
                sys.stderr.write(err.read().decode(errors="replace")[-4000:])
                sys.exit(f"command failed with status {code}: {' '.join(cmd)}")
            with open(rss_file) as f:
                lines = [l for l in f.read().splitlines() if l.strip()]
            times.append(t1 - t0)
            cpus.append(ru.ru_utime + ru.ru_stime)
            rss = max(rss, int(lines[-1]))
finally:
    os.unlink(rss_file)
print(f"{min(times):.6f} {min(cpus):.6f} {rss} " + ",".join(f"{t:.4f}" for t in times))
EOF
    ) || bench_die "measuring '$*' failed"
    read -r BENCH_TIME BENCH_CPU BENCH_RSS BENCH_TIMES <<<"$res"
    BENCH_TIMES=${BENCH_TIMES//,/ }
}

# Formatting helpers.
bench_fmt_secs() { awk -v s="$1" 'BEGIN { if (s < 1) printf "%.1f ms", s * 1000; else printf "%.3f s", s }'; }
bench_fmt_kib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
# bench_at_least A B: A >= B (decimals).
bench_at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
