#!/bin/bash
# imgmend-map --output=svg on a chain with local data, backing data, zero
# and compressed clusters and unallocated space: well-formed XML that
# rsvg-convert renders, and the picture shows each class in its legend colour.
. "$(dirname "$0")/lib.sh"

command -v rsvg-convert > /dev/null || fail "rsvg-convert is not installed (scripts/setup installs librsvg2-bin)"

qemu-img create -q -f qcow2 base.qcow2 8M
qemu-io -c 'write -P 1 0 2M' base.qcow2 > /dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 8M
qemu-io -c 'write -P 2 1M 512k' -c 'write -z 3M 256k' -c 'write -c -P 3 4M 64k' -c 'write -P 4 6M 128k' \
    top.qcow2 > /dev/null
# The oracle agrees the chain has every class we want drawn.
qemu-img map --output=json top.qcow2 > qemu.json
jq -e 'any(.[]; .depth == 0 and .data)' qemu.json > /dev/null || fail "no local data in top.qcow2"
jq -e 'any(.[]; .depth == 1 and .data)' qemu.json > /dev/null || fail "no backing data in top.qcow2"
jq -e 'any(.[]; .depth == 0 and .zero and (.data | not))' qemu.json > /dev/null || fail "no zero cluster in top.qcow2"
jq -e 'any(.[]; .present | not)' qemu.json > /dev/null || fail "nothing unallocated in top.qcow2"
[ "$(our_compressed_extents top.qcow2)" -ge 1 ] || fail "imgmend-map sees no compressed extent in top.qcow2"
pass

"$MAP" --output=svg top.qcow2 > map.svg 2> map.err || fail "imgmend-map --output=svg: $(cat map.err)"
[ ! -s map.err ] || fail "imgmend-map --output=svg wrote to stderr: $(cat map.err)"
pass

# Well-formed XML with an <svg> root (xmllint too when present).
python3 - map.svg << 'EOF' || fail "map.svg is not a well-formed SVG document"
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
root = doc.documentElement
assert root.tagName == "svg", root.tagName
assert root.getAttribute("xmlns") == "http://www.w3.org/2000/svg", root.getAttribute("xmlns")
assert int(root.getAttribute("width")) > 0 and int(root.getAttribute("height")) > 0
EOF
if command -v xmllint > /dev/null; then xmllint --noout map.svg || fail "xmllint rejects map.svg"; fi
pass

# A file name with XML's special characters is escaped.
cp top.qcow2 'a&b<c>".qcow2'
"$MAP" --output=svg 'a&b<c>".qcow2' > special.svg || fail "imgmend-map --output=svg on a&b<c>\".qcow2"
python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' special.svg ||
    fail "the SVG of a&b<c>\".qcow2 is not well-formed"
pass

rsvg-convert map.svg -o map.png || fail "rsvg-convert map.svg"
[ -s map.png ] || fail "rsvg-convert wrote an empty map.png"
pass

# Decode the PNG (no PIL: zlib + struct) and check the colours: at least 4
# distinct ones, and every legend colour of a class the chain has (local
# data, backing depth 1, zero, unallocated, compressed) covers pixels of the
# guest bar, i.e. outside its 14x14 legend swatch.
python3 - map.svg map.png << 'EOF' || fail "the picture does not show the chain (see above)"
import struct, sys, zlib, xml.dom.minidom

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and interlace == 0, (depth, interlace)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev, p = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1: line[i] = (line[i] + a) & 255
            elif ftype == 2: line[i] = (line[i] + b) & 255
            elif ftype == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    def pixel(x, y):
        px = rows[y][x * channels:(x + 1) * channels]
        if channels == 4 and px[3] == 0:
            return None
        return tuple(px[:3]) if channels >= 3 else (px[0],) * 3
    return width, height, pixel

width, height, pixel = read_png(sys.argv[2])
counts = {}
for y in range(height):
    for x in range(width):
        px = pixel(x, y)
        counts[px] = counts.get(px, 0) + 1
distinct = [c for c in counts if c is not None]
print(f"{len(distinct)} distinct colours in {width}x{height}")
assert len(distinct) >= 4, f"only {len(distinct)} distinct colours: the picture is blank"

# The legend: a 14x14 swatch followed by its label.
doc = xml.dom.minidom.parse(sys.argv[1])
legend, swatches = {}, set()
for rect in doc.getElementsByTagName("rect"):
    nxt = rect.nextSibling
    if rect.getAttribute("width") == "14" and nxt is not None and getattr(nxt, "tagName", "") == "text":
        legend[nxt.firstChild.data] = rect.getAttribute("fill")
        swatches.add((float(rect.getAttribute("x")), float(rect.getAttribute("y"))))
want = ["local data", "backing depth 1", "zero", "unallocated", "compressed"]
missing = [w for w in want if w not in legend]
assert not missing, f"legend lacks {missing}: {legend}"

def rgb(fill):
    assert fill.startswith("#") and len(fill) == 7, fill
    return tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))

# Pixels of each class colour outside the legend swatches (a swatch is at
# most 14x14 = 196 pixels, plus its border); the bar gives far more.
bad = []
for name in want:
    colour = rgb(legend[name])
    n = counts.get(colour, 0)
    if n < 196 + 40:
        bad.append(f"{name} {legend[name]}: {n} pixels")
assert not bad, "classes not drawn in the bar: " + "; ".join(bad)
print("drawn:", ", ".join(f"{w} {counts[rgb(legend[w])]}" for w in want))
EOF
pass

# Another window of the same chain draws only what lies in it: the first
# MiB is backing data alone, so no local-data colour in the guest bar.
"$MAP" --output=svg --max-length=1M top.qcow2 > first.svg || fail "imgmend-map --output=svg --max-length=1M"
python3 - first.svg << 'EOF' || fail "the SVG of the first MiB draws more than the backing data"
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
rects = doc.getElementsByTagName("rect")
legend = {}
for r in rects:
    n = r.nextSibling
    if r.getAttribute("width") == "14" and n is not None and getattr(n, "tagName", "") == "text":
        legend[n.firstChild.data] = r.getAttribute("fill")
fills = [r.getAttribute("fill") for r in rects if r.getAttribute("height") == "40" and r.getAttribute("width") != "14"]
assert legend["backing depth 1"] in fills, fills
assert legend["local data"] not in fills and legend["zero"] not in fills, fills
EOF
pass
finish
