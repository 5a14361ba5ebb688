#!/bin/bash
# Every option a tool's --help shows (long --xyz and short -x) is documented
# in its man page, man/TOOL.1.scd.
. "$(dirname "$0")/lib.sh"

TOOLS=(imgmend imgmend-check imgmend-repair imgmend-rebase imgmend-map imgmend-batch)

# options_in FILE: the -x and --xyz tokens of FILE, one a line. A token
# starts the line or follows a space or one of [ ( | , so that hyphenated
# words (qemu-img, crash-safe) are not taken for options.
options_in() {
    grep -oE '(^|[][ (|,])--?[A-Za-z][A-Za-z0-9-]*' "$1" | sed -E 's/^[][ (|,]//' | sort -u || true
}

# documented OPTION PAGE: PAGE has OPTION as a whole token (scdoc writes
# *--xyz*, *-x*, *--xyz*=_VALUE_).
documented() {
    local re
    re=$(printf '%s' "$1" | sed 's/-/\\-/g')
    grep -qE "(^|[^A-Za-z0-9-])$re([^A-Za-z0-9-]|\$)" "$2"
}

MISSING=()
for t in "${TOOLS[@]}"; do
    page="$IMGMEND_SOURCE_DIR/man/$t.1.scd"
    [ -f "$page" ] || fail "no man page man/$t.1.scd"
    "$IMGMEND_BIN_DIR/$t" --help > "$t.help" || fail "$t --help"
    options_in "$t.help" > "$t.options"
    # Every tool has at least -h and --help; more than that shows the parse
    # found the option list.
    grep -qx -- '--help' "$t.options" || fail "no --help found in $t --help: $(cat "$t.help")"
    [ "$t" = imgmend ] || [ "$(wc -l < "$t.options")" -ge 4 ] || fail "too few options found in $t --help"
    pass
    while read -r opt; do
        if documented "$opt" "$page"; then pass; else MISSING+=("$t: $opt"); fi
    done < "$t.options"
done
# The check itself: a made-up option is reported missing.
documented --no-such-option "$IMGMEND_SOURCE_DIR/man/imgmend-map.1.scd" && fail "documented() finds anything"
pass

# The formats -f accepts: the same names (qcow2, raw) in the -f entry of
# --help and of the man page (imgmend-rebase takes qcow2 overlays only).
# help_entry OPTION FILE / page_entry OPTION FILE: the text of an option's
# entry in --help (boost's "  -f [ --format ] arg  ..." and its continuation
# lines) / in the scdoc source ("*-f, --format* _FMT_" and its indented lines).
help_entry() { awk -v o="  $1 " 'index($0, o) == 1 { on = 1; print; next } /^  -/ { on = 0 } on' "$2"; }
page_entry() { awk -v o="*$1" 'index($0, o) == 1 { on = 1; next } !/^\t/ { on = 0 } on' "$2"; }
formats_in() { grep -oiwE 'qcow2|raw' | tr 'A-Z' 'a-z' | sort -u | tr '\n' ' '; }
for t in imgmend-check imgmend-repair imgmend-rebase imgmend-map; do
    page="$IMGMEND_SOURCE_DIR/man/$t.1.scd"
    help=$(help_entry -f "$t.help")
    [ -n "$help" ] || fail "no -f entry in $t --help"
    [ -n "$(page_entry -f "$page")" ] || fail "no -f entry in man/$t.1.scd"
    assert_eq "$(page_entry -f "$page" | formats_in)" "$(formats_in <<< "$help")" "formats of $t -f in the man page and in --help"
done
# imgmend-rebase -U leaves the overlay locked, as its man page says.
help_entry -U imgmend-rebase.help | grep -q 'backing' ||
    fail "imgmend-rebase --help: -U does not say it concerns the backing files: $(help_entry -U imgmend-rebase.help)"
pass

if [ ${#MISSING[@]} -gt 0 ]; then
    fail "options in --help but not in the man page: $(printf '%s; ' "${MISSING[@]}")"
fi
finish
