#!/usr/bin/env bash
# Opens a run's report.html in headless Chromium and fails when the page logs anything to the console (a refused
# resource, a script error), when a node of the run's run.json is missing from the graph or the timeline, or when a
# failed node has no failure section. Saves a screenshot of the page.
#
# Usage: scripts/check-report.sh RUN_DIRECTORY SCREENSHOT.png
# Exit codes: 0 the page is complete, 1 it is not (the reason is printed), 2 bad usage, 3 Chromium is missing.
set -euo pipefail

if [ $# -ne 2 ] || [ ! -f "$1/run.json" ] || [ ! -f "$1/report.html" ]; then
  echo "usage: $0 RUN_DIRECTORY SCREENSHOT.png (the directory holds run.json and report.html)" >&2
  exit 2
fi
run=$(cd "$1" && pwd)
screenshot=$2
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  echo "check-report: Chromium is not installed; install it with: apt-get install chromium" >&2
  exit 3
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars --user-data-dir="$work/profile" --enable-logging=stderr --v=0)
"$chromium" "${flags[@]}" --dump-dom "file://$run/report.html" > "$work/dom.html" 2> "$work/dom.log"
mkdir -p "$(dirname "$screenshot")"
"$chromium" "${flags[@]}" --window-size=1280,2400 --screenshot="$screenshot" "file://$run/report.html" > /dev/null 2> "$work/screenshot.log"
if grep -h ':CONSOLE' "$work/dom.log" "$work/screenshot.log"; then
  echo "check-report: the page logged to the console (above)" >&2
  exit 1
fi
[ -s "$screenshot" ] || { echo "check-report: Chromium wrote no screenshot to $screenshot" >&2; exit 1; }

python3 - "$run/run.json" "$work/dom.html" <<'PYTHON'
import json, re, sys
record = json.load(open(sys.argv[1]))
dom = open(sys.argv[2], encoding="utf-8").read()
problems = []
for node in record["nodes"]:
    anchor = "node-" + re.sub(r"[^0-9A-Za-z]", "_", node["id"])
    for place in ("graph", "timeline"):
        if f'id="{place}-{anchor}"' not in dom:
            problems.append(f"{node['id']} is not on the {place}")
    if f'id="{anchor}"' not in dom:
        problems.append(f"{node['id']} has no section")
    if node["status"] in ("failed", "timed-out") and f'<article class="failure"><h3><a href="#{anchor}">' not in dom:
        problems.append(f"{node['id']} failed but is not among the failures")
if problems:
    print("check-report: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"check-report: {len(record['nodes'])} nodes on the graph and the timeline, "
      f"{sum(n['status'] in ('failed', 'timed-out') for n in record['nodes'])} failed marked; no console message")
PYTHON
