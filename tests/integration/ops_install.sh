#!/bin/bash
# `meson install` into a DESTDIR, then use what was installed: the binaries,
# the man pages, the bash completion, and the library through pkg-config
# with examples/print_map.cpp. Runs for whichever build directory runs the
# tests (build, build-asan).
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$IMGMEND_BIN_DIR/.." && pwd)
SRC=$IMGMEND_SOURCE_DIR
TOOLS=(imgmend imgmend-check imgmend-repair imgmend-rebase imgmend-map imgmend-batch)

# option NAME: a meson option of this build directory.
option() { jq -r --arg n "$1" '.[] | select(.name == $n) | .value | tostring' "$BUILD/meson-info/intro-buildoptions.json"; }
PREFIX=$(option prefix)
[ -n "$PREFIX" ] || fail "no prefix in $BUILD/meson-info"
ROOT="$T/dest$PREFIX"
BINDIR="$ROOT/$(option bindir)"
LIBDIR="$ROOT/$(option libdir)"
MANDIR="$ROOT/$(option mandir)"
DATADIR="$ROOT/$(option datadir)"
INCDIR="$ROOT/$(option includedir)"
SANITIZE=$(option b_sanitize)
VERSION=$(jq -r .version "$BUILD/meson-info/intro-projectinfo.json")

DESTDIR="$T/dest" meson install -C "$BUILD" --no-rebuild > install.log 2>&1 ||
    fail "meson install -C $BUILD: $(tail -20 install.log)"
pass

# Exactly the six tools in bindir (no test helper), each runs.
assert_eq "$(printf '%s\n' "${TOOLS[@]}" | sort | tr '\n' ' ')" "$(ls "$BINDIR" | sort | tr '\n' ' ')" "installed binaries"
for t in "${TOOLS[@]}"; do
    [ -x "$BINDIR/$t" ] || fail "$BINDIR/$t is not executable"
    if readelf -d "$BINDIR/$t" | grep -E 'RPATH|RUNPATH' | grep -qF "$BUILD"; then
        fail "installed $t still points into the build directory: $(readelf -d "$BINDIR/$t" | grep -E 'RPATH|RUNPATH')"
    fi
    "$BINDIR/$t" --help > help.out || fail "installed $t --help"
    grep -q "^Usage: $t " help.out || fail "installed $t --help: $(head -2 help.out)"
    pass
done
OUT=$("$BINDIR/imgmend" --version) || fail "installed imgmend --version"
assert_eq "imgmend $VERSION" "$OUT" "installed imgmend --version"
"$BINDIR/imgmend" help > help.out || fail "installed imgmend help"
for c in check repair rebase map batch; do
    grep -qE "^  $c +[a-z]" help.out || fail "installed imgmend help does not list $c: $(cat help.out)"
done
pass

# An image with a backing file, data, zeros and compressed data.
qemu-img create -q -f qcow2 base.qcow2 8M
qemu-io -c 'write -P 1 0 2M' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 img.qcow2 8M
qemu-io -c 'write -P 2 1M 512k' -c 'write -z 3M 256k' -c 'write -c -P 3 4M 64k' -c 'write -P 4 6M 128k' \
    img.qcow2 > /dev/null
"$BINDIR/imgmend" map --output=json img.qcow2 > installed.json || fail "installed imgmend map"
"$IMGMEND_BIN_DIR/imgmend-map" --output=json img.qcow2 > built.json || fail "imgmend-map"
diff -u built.json installed.json >&2 || fail "installed imgmend map differs from imgmend-map"
pass
compare_map img.qcow2
[ "$(jq length installed.json)" -ge 5 ] || fail "too few extents in img.qcow2: $(cat installed.json)"
pass

# Man pages: one per man/*.scd, each renders with no warning.
assert_eq "$(cd "$SRC/man" && ls *.scd | sed 's/\.scd$//' | sort | tr '\n' ' ')" \
    "$(ls "$MANDIR/man1" | sort | tr '\n' ' ')" "installed man pages"
for t in "${TOOLS[@]}"; do
    page="$MANDIR/man1/$t.1"
    [ -s "$page" ] || fail "no man page for $t"
    MANWIDTH=80 man --warnings -l "$page" > "$t.txt" 2> "$t.man.err" || fail "man -l $page: $(cat "$t.man.err")"
    [ ! -s "$t.man.err" ] || fail "man -l $page warns: $(cat "$t.man.err")"
    grep -q '^NAME' "$t.txt" || fail "man -l $page: no NAME section"
    grep -qE "^ +$t - " "$t.txt" || fail "man -l $page: NAME does not name $t"
    pass
done

# Lists and examples come out one item a line: scdoc joins consecutive
# source lines into one paragraph unless each item is an indented entry or
# the lines sit in a ``` block.
# scd_section NAME SCD / man_section NAME TEXT: a section's lines, heading
# excluded, in the scdoc source / in the rendered text.
scd_section() { awk -v h="# $1" '$0 == h { on = 1; next } /^# / { on = 0 } on' "$2"; }
man_section() { awk -v h="$1" '$0 == h { on = 1; next } /^[A-Z]/ { on = 0 } on' "$2"; }
for t in "${TOOLS[@]}"; do
    scd="$SRC/man/$t.1.scd"
    codes=$(scd_section "EXIT STATUS" "$scd" | grep -oE '\*[0-9]+\*' | tr -d '*' | sort -un)
    [ -n "$codes" ] || fail "$t.1.scd: no exit code (*N*) in EXIT STATUS"
    man_section "EXIT STATUS" "$t.txt" > "$t.exit"
    for c in $codes; do
        grep -qE "^ +$c( |\$)" "$t.exit" || fail "$t.1: exit code $c does not start a line: $(cat "$t.exit")"
        pass
    done
    # Example commands: the tab-indented lines and those in ``` blocks.
    scd_section EXAMPLES "$scd" | awk '/^```/ { lit = !lit; next } lit || /^\t/' |
        sed -E 's/\\([*_])/\1/g; s/^[[:space:]]+//' > "$t.examples"
    [ -s "$t.examples" ] || fail "$t.1.scd: no example command"
    man_section EXAMPLES "$t.txt" | sed -E 's/^[[:space:]]+//' > "$t.rendered-examples"
    while IFS= read -r ex; do
        grep -qxF -- "$ex" "$t.rendered-examples" || fail "$t.1: example not on a line of its own: $ex"
        pass
    done < "$t.examples"
done

# Bash completion: the file and a link per tool; it registers and completes.
COMP="$DATADIR/bash-completion/completions/imgmend"
[ -f "$COMP" ] || fail "no bash completion at $COMP"
for t in "${TOOLS[@]}"; do
    [ -e "$DATADIR/bash-completion/completions/$t" ] || fail "no bash completion for $t"
done
pass
OUT=$(bash -c 'source "$1" && complete -p imgmend' _ "$COMP") || fail "complete -p imgmend after sourcing $COMP"
grep -q -- '-F _imgmend_complete' <<< "$OUT" || fail "complete -p imgmend: $OUT"
pass
# complete WORD...: the completions of the last word, with the installed tools on PATH.
complete_words() {
    PATH="$BINDIR:$PATH" bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
        _imgmend_complete; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}
assert_eq check "$(complete_words imgmend ch)" "completion of 'imgmend ch'"
assert_eq "--output" "$(complete_words imgmend map --outp)" "completion of 'imgmend map --outp'"
assert_eq "--backing --backing-format" "$(complete_words imgmend-rebase --back)" "completion of 'imgmend-rebase --back'"
assert_eq "--repair-leaks" "$(complete_words imgmend-batch --rep)" "completion of 'imgmend-batch --rep'"

# The library: headers and pkg-config; every installed header compiles on
# its own flags; the example builds against the installed library and prints
# the extents imgmend-map prints.
PCDIR="$LIBDIR/pkgconfig"
[ -f "$PCDIR/imgmend.pc" ] || fail "no imgmend.pc in $PCDIR"
pcflags() { PKG_CONFIG_PATH="$PCDIR" pkg-config --define-variable=prefix="$ROOT" "$@" imgmend; }
CFLAGS=$(pcflags --cflags) || fail "pkg-config --cflags imgmend"
LIBS=$(pcflags --libs) || fail "pkg-config --libs imgmend"
assert_eq "$VERSION" "$(PKG_CONFIG_PATH="$PCDIR" pkg-config --modversion imgmend)" "pkg-config --modversion imgmend"
grep -qF -- "-I$INCDIR/imgmend" <<< "$CFLAGS" || fail "pkg-config --cflags does not point at the installed headers: $CFLAGS"
grep -qF -- "-L$LIBDIR" <<< "$LIBS" || fail "pkg-config --libs does not point at the installed library: $LIBS"
pass
for f in formats/chain.hpp map/map.hpp; do [ -f "$INCDIR/imgmend/$f" ] || fail "header $f not installed"; done
(cd "$SRC/lib" && ls */*.hpp) | sort > source-headers
(cd "$INCDIR/imgmend" && ls */*.hpp) | sort > installed-headers
diff -u source-headers installed-headers >&2 || fail "installed headers differ from lib/*/*.hpp"
sed 's/.*/#include <&>/' installed-headers > all_headers.cpp
# shellcheck disable=SC2086 # flags are words
g++ -fsyntax-only $CFLAGS all_headers.cpp 2> headers.err || fail "the installed headers do not compile: $(head -20 headers.err)"
pass

EXTRA=()
if [ "$SANITIZE" != none ]; then
    # The installed library is instrumented: the sanitizer runtimes must come
    # first, so the example links them too.
    EXTRA=(-fsanitize="$SANITIZE")
fi
# shellcheck disable=SC2086
g++ "${EXTRA[@]}" -o print_map "$SRC/examples/print_map.cpp" $CFLAGS $LIBS 2> example.err ||
    fail "examples/print_map.cpp does not build against the installed library: $(head -20 example.err)"
pass
LD_LIBRARY_PATH="$LIBDIR" ldd ./print_map > ldd.out
grep -F libimgmend ldd.out | grep -qF "$LIBDIR/" || fail "print_map does not load the installed libimgmend: $(cat ldd.out)"
pass
LD_LIBRARY_PATH="$LIBDIR" ./print_map img.qcow2 > example.out 2> example.run.err ||
    fail "print_map img.qcow2: $(cat example.run.err)"
assert_eq "$(jq length built.json)" "$(wc -l < example.out)" "print_map extents vs imgmend-map --output=json | jq length"
# Line by line: start, length, depth and the kind agree.
jq -r '.[] | "\(.start) \(.length) depth=\(.depth) \(if (.present | not) then "unallocated" elif .zero then "zero" else "data" end)"' \
    built.json > expected.out
diff -u expected.out example.out >&2 || fail "print_map output differs from imgmend-map's extents"
pass

# The static library: the same example linked against libimgmend.a (with
# pkg-config's --static dependencies) needs no libimgmend.so at run time.
[ -f "$LIBDIR/libimgmend.a" ] || fail "no static library libimgmend.a in $LIBDIR"
STATIC_LIBS=$(pcflags --static --libs | sed 's/-limgmend\b//') || fail "pkg-config --static --libs imgmend"
# shellcheck disable=SC2086
g++ "${EXTRA[@]}" -o print_map_static "$SRC/examples/print_map.cpp" $CFLAGS "$LIBDIR/libimgmend.a" $STATIC_LIBS \
    2> example_static.err || fail "examples/print_map.cpp does not link against libimgmend.a: $(head -20 example_static.err)"
! ldd ./print_map_static | grep -q libimgmend || fail "print_map_static loads a shared libimgmend: $(ldd ./print_map_static)"
./print_map_static img.qcow2 > example_static.out 2> example_static.run.err ||
    fail "print_map_static img.qcow2: $(cat example_static.run.err)"
diff -u expected.out example_static.out >&2 || fail "the statically linked print_map differs from imgmend-map's extents"
pass

rc=0
LD_LIBRARY_PATH="$LIBDIR" ./print_map missing.qcow2 > /dev/null 2> missing.err || rc=$?
assert_eq 1 "$rc" "print_map on a missing file"
grep -q '^print_map: ' missing.err || fail "print_map on a missing file: $(cat missing.err)"
pass
finish
