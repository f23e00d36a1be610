#!/usr/bin/env bash
# Headless-browser check of an HTML canary report.
#
#   tests/browser/check_report.sh [REPORT_DIR]
#
# Without REPORT_DIR, writes the sample report of the library tests (hostile telemetry strings
# included) to a temporary directory first. Then, in headless Chromium with networking off:
#   1. --dump-dom: every chart id of the report is in the rendered DOM, no <script> element
#      exists, and the hostile route name is text (escaped), not markup;
#   2. --screenshot at 1280x2000: the page is not blank (pixel statistics);
#   3. the browser's console log (--enable-logging=stderr) has no error, in particular no
#      Content-Security-Policy violation (which would mean the page tried to load something);
#   4. --print-to-pdf (the @media print layout) produces pages.
# Exits non-zero on any failure. Needs chromium and python3 (PIL or numpy not required).
set -euo pipefail

here="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ $# -ge 1 ]]; then
  report_dir="$(cd "$1" && pwd)"
else
  report_dir="$work/report"
  if ! (cd "$here" && CANALYST_SAMPLE_REPORT_DIR="$report_dir" \
    cargo test --quiet --lib report::tests::sample_report -- --ignored >"$work/cargo.log" 2>&1); then
    cat "$work/cargo.log" >&2; echo "FAIL: could not write the sample report" >&2; exit 1
  fi
fi
html="$report_dir/index.html"
[[ -f "$html" ]] || { echo "FAIL: no $html" >&2; exit 1; }

browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
[[ -n "$browser" ]] || { echo "FAIL: chromium not found (set CHROMIUM)" >&2; exit 1; }

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --disable-default-apps --disable-extensions --hide-scrollbars)

"$browser" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" \
  --dump-dom "file://$html" >"$work/dom.html" 2>"$work/dom.log"
"$browser" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" \
  --enable-logging=stderr --v=0 --window-size=1280,2000 \
  --screenshot="$work/shot.png" "file://$html" >"$work/shot.out" 2>"$work/console.log"

"$browser" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" \
  --no-pdf-header-footer --print-to-pdf="$work/print.pdf" "file://$html" >/dev/null 2>&1

python3 - "$html" "$work/dom.html" "$work/shot.png" "$work/console.log" "${KEEP_SCREENSHOT:-}" "$work/print.pdf" <<'PY'
import os, re, shutil, struct, sys, zlib

html_path, dom_path, shot_path, log_path, keep, pdf_path = sys.argv[1:7]
src = open(html_path, encoding="utf-8").read()
dom = open(dom_path, encoding="utf-8").read()
fail = []

ids = re.findall(r'<figure id="([^"]+)"', src)
if not ids:
    fail.append("the report has no charts")
for i in ids:
    if f'id="{i}"' not in dom:
        fail.append(f"chart {i} missing from the rendered DOM")
if re.search(r"<script\b", dom, re.I):
    fail.append("a <script> element exists in the rendered DOM")
if "<svg" not in dom:
    fail.append("no inline SVG rendered")

def png_pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif t == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = {2: 3, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = png_pixels(shot_path)
lum = [sum(r[x:x + 3]) / 3 for r in rows[::4] for x in range(0, len(r), bpp * 4)]
mean = sum(lum) / len(lum)
var = sum((v - mean) ** 2 for v in lum) / len(lum)
ink = sum(1 for v in lum if v < 200) / len(lum)
print(f"screenshot {w}x{h}: mean luminance {mean:.1f}, variance {var:.1f}, ink share {ink:.3f}")
if var < 200 or ink < 0.01:
    fail.append("screenshot looks blank")

log = open(log_path, encoding="utf-8", errors="replace").read()
console = [l for l in log.splitlines() if "CONSOLE" in l or "Content Security Policy" in l]
errors = [l for l in console if re.search(r"error|Refused|Content Security Policy", l, re.I)]
for l in errors:
    fail.append("console: " + l.strip())

pages = 0
if os.path.exists(pdf_path):
    pages = len(re.findall(rb"/Type\s*/Page[^s]", open(pdf_path, "rb").read()))
print(f"print to PDF (@media print): {pages} pages")
if pages < 1:
    fail.append("printing to PDF produced no pages")

if keep:
    shutil.copy(shot_path, keep)
    print(f"screenshot kept at {keep}")
print(f"{len(ids)} charts present in the DOM; {len(console)} console lines, {len(errors)} errors")
if fail:
    print("FAIL:\n  " + "\n  ".join(fail), file=sys.stderr)
    sys.exit(1)
print("OK")
PY
