#!/bin/bash
# Re-runs the experiments behind ../qemu-check-behaviour.md.
#   PATH=/path/to/build/tests/tools:$PATH docs/qemu-check-experiments/run.sh [case...]
# Each case runs in its own directory under $WORK (default /tmp/qemu-check-exp);
# its transcript goes to $WORK/out/NAME.txt. `python3 sum.py $WORK/out/*.txt`
# prints a compact summary. Needs qemu-img/qemu-io/qemu-nbd (qemu-utils).
here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/qemu-check-exp}
command -v poke >/dev/null || { echo "poke is not on PATH" >&2; exit 2; }
mkdir -p "$WORK/out"
cases=("$@"); [ ${#cases[@]} -eq 0 ] && cases=($(cd "$here/cases" && ls *.sh))
for c in "${cases[@]}"; do
  c=${c%.sh}; d=$WORK/w/$c; rm -rf "$d"; mkdir -p "$d"
  ( cd "$d" && . "$here/lib.sh" && . "$here/cases/$c.sh" ) > "$WORK/out/$c.txt" 2>&1
  echo "$c -> $WORK/out/$c.txt"
done
