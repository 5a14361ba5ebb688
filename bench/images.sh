# Image generators and the named benchmark images, shared by the bench scripts.
# Source after lib.sh.

# --- generators (each gets the path to create as its last argument) ---------

gen_prealloc() { # SIZE PATH
    qemu-img create -q -f qcow2 -o preallocation=metadata "$2" "$1"
}

# gen_frag SIZE CLUSTER OPS ZERO_PERCENT SEED PATH: a qcow2 image of SIZE
# bytes where OPS distinct clusters, picked at random, are written in random
# order (so neither guest nor host order helps): ZERO_PERCENT of them with
# `write -z` (zero flag, no data), the rest with 4 KiB of data. Almost every op is
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
    local opts
    opts="driver=qcow2,file.filename=$(bench_qemu_opts_path "$path"),overlap-check=none,l2-cache-size=4M"
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

# gen_snapshots SIZE SNAPSHOTS PATH: SIZE bytes with scattered data, then
# SNAPSHOTS internal snapshots with more scattered writes between them.
gen_snapshots() {
    local size=$1 count=$2 path=$3
    qemu-img create -q -f qcow2 "$path" "$size"
    local i
    for ((i = 0; i < count; i++)); do
        python3 -c '
import random, sys
size, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
for _ in range(200):
    print(f"write -P {1 + seed % 255} {rng.randrange(size // 65536) * 65536} 65536")
' "$size" "$i" | qemu-io -t unsafe -f qcow2 "$path" >/dev/null || return 1
        qemu-img snapshot -c "s$i" "$path" || return 1
    done
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
    snap-50)
        DESC="16 GiB, 64k clusters, 50 internal snapshots, 200 writes between each"
        bench_image "$1" "snapshots 16G n50 w200" gen_snapshots $((16 << 30)) 50 ;;
    *) bench_die "unknown image '$1' (known: ${ALL_IMAGES[*]})" ;;
    esac
}

