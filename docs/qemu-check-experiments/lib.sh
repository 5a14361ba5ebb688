# experiment helpers
# poke must be on PATH (e.g. PATH=$PWD/build/tests/tools:$PATH)
# base64k: 4 MiB, 64k clusters, data 0x11 at 0 (64k), 0x22 at 1M (128k)
mkbase() { # name [create opts...]
  local n=$1; shift
  rm -f $n; qemu-img create -q -f qcow2 "$@" $n 4M
  qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' $n >/dev/null
}
chk() { # img [extra args]  -> merged human output (unbuffered), exit, json
  local img=$1; shift
  echo "\$ qemu-img check $* $img"
  stdbuf -o0 -e0 qemu-img check "$@" $img 2>&1 | sed 's/^/  | /'
  echo "  exit=${PIPESTATUS[0]}"
}
chkj() {
  local img=$1; shift
  echo "\$ qemu-img check --output=json $* $img"
  stdbuf -o0 -e0 qemu-img check --output=json "$@" $img 2>&1 | sed 's/^/  | /'
  echo "  exit=${PIPESTATUS[0]}"
}
cmpo() { # orig img
  echo "\$ qemu-img compare orig img"
  qemu-img compare -U $1 $2 2>&1 | sed 's/^/  | /'; echo "  exit=${PIPESTATUS[0]}"
}
full() { # damaged orig : check, json, then -r leaks and -r all on copies
  local img=$1 orig=$2
  chk $img; chkj $img
  for m in leaks all; do
    echo "---- repair -r $m (on a copy)"
    cp $img r_$m.qcow2
    chk r_$m.qcow2 -r $m
    chkj r_$m.qcow2
    cmpo $orig r_$m.qcow2
  done
}
P() { echo "\$ poke $*"; poke "$@" || echo "  (poke failed: $?)"; }
X() { echo "\$ $*"; eval "$@" 2>&1 | sed 's/^/  | /'; }
full() { # damaged orig : check, json, then -r leaks and -r all on copies
  local img=$1 orig=$2
  chk $img; chkj $img
  for m in leaks all; do
    echo "---- repair -r $m (on a copy)"
    cp $img r_$m.qcow2
    chk r_$m.qcow2 -r $m
    chkj r_$m.qcow2
    echo "  vs undamaged:"; cmpo $orig r_$m.qcow2
    echo "  vs damaged:"; cmpo $img r_$m.qcow2
  done
}
