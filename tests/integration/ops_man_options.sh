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

if [ ${#MISSING[@]} -gt 0 ]; then
    fail "options in --help but not in the man page: $(printf '%s; ' "${MISSING[@]}")"
fi
finish
