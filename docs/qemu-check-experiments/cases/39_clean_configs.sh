c() { echo "======== clean: $*"; rm -f x.qcow2; qemu-img create -q -f qcow2 "$@" x.qcow2 4M; }
c -o compat=0.10; qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' x.qcow2 >/dev/null; chk x.qcow2; chkj x.qcow2
c -o compat=0.10; qemu-io -c 'write -P 0x11 0 64k' -c 'write -z 0 64k' x.qcow2 >/dev/null; echo "zero on v2: l2[0]=$(poke --hex x.qcow2 get l2 0)"; chk x.qcow2
c -o extended_l2=on; qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' x.qcow2 >/dev/null; chk x.qcow2; chkj x.qcow2
c ; qemu-io -c 'write -c -P 0x11 0 64k' -c 'write -c -P 0x22 1M 128k' x.qcow2 >/dev/null; chk x.qcow2; chkj x.qcow2
c -o compression_type=zstd; qemu-io -c 'write -c -P 0x11 0 64k' -c 'write -c -P 0x22 1M 128k' x.qcow2 >/dev/null; chk x.qcow2
c ; qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' x.qcow2 >/dev/null; qemu-img snapshot -c s1 x.qcow2; qemu-img snapshot -c s2 x.qcow2; chk x.qcow2; chkj x.qcow2
c ; qemu-io -c 'write -P 0x11 0 64k' x.qcow2 >/dev/null; qemu-img bitmap --add x.qcow2 b0; qemu-io -c 'write -P 0x22 1M 128k' x.qcow2 >/dev/null; chk x.qcow2; chkj x.qcow2
c -o preallocation=metadata; chk x.qcow2; chkj x.qcow2
c -o preallocation=full; chk x.qcow2
c -o preallocation=falloc; chk x.qcow2
c ; chk x.qcow2; chkj x.qcow2
echo "======== empty v2"; c -o compat=0.10; chk x.qcow2
c ; qemu-io -c 'write -P 0x11 0 64k' -c 'write -z 0 64k' x.qcow2 >/dev/null; echo "zero_alloc? l2[0]=$(poke --hex x.qcow2 get l2 0)"; chk x.qcow2
c ; qemu-io -c 'write -P 0x11 0 64k' -c 'write -z -u 0 64k' x.qcow2 >/dev/null; echo "zero plain? l2[0]=$(poke --hex x.qcow2 get l2 0)"; chk x.qcow2
echo "======== virtual size not a multiple of the cluster size (4M+512)"
rm -f x.qcow2; qemu-img create -q -f qcow2 x.qcow2 4194816; chk x.qcow2; chkj x.qcow2
echo "======== backing file"
rm -f b.qcow2 x.qcow2; qemu-img create -q -f qcow2 b.qcow2 4M; qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 x.qcow2; qemu-io -c 'write -P 1 0 64k' x.qcow2 >/dev/null; chk x.qcow2; chkj x.qcow2
echo "======== missing backing file"; rm b.qcow2; chk x.qcow2; chkj x.qcow2
echo "======== raw image"; rm -f r.raw; truncate -s 1M r.raw; chk r.raw -f raw; chkj r.raw -f raw; chk r.raw
echo "======== not an image / missing file"; chk nonexist.qcow2; chkj nonexist.qcow2; echo hello > t.qcow2; chk t.qcow2 -f qcow2
