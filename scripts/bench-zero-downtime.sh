#!/usr/bin/env bash
# Zero-downtime deploys and rollbacks, measured with the real pieces (scripts/lib/bench_deploy.sh: a Docker engine, a
# local registry, OpenBao, the stand-in images, the environment's HAProxy) in a dev environment of its own:
#   1. a first deploy of v1 (the environment and its proxy start cold);
#   2. steady loopback traffic on both services (scripts/bench/traffic_probe.py: PROBE_CLIENTS threads, default 4,
#      each sending GET after GET on a keep-alive connection to /stocks?limit=5, /portfolio/bench and /health);
#   3. SWITCHES (default 10) deploys of v2 alternating with as many `stockops rollback --tag` to v1.
# Prints one row per deploy or rollback (wall time, how long the proxy switch took, requests and failures while it ran,
# p99 latency) and the totals: failed requests (target 0), p99 while deploying or rolling back beside p99 at rest.
# Every step runs the release stockops binary (STOCKOPS overrides it; the deploys run through stockops-bench deploy, STOCKOPS_BENCH). Everything it starts is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/docker.sh
source scripts/lib/ports.sh

SWITCHES=${SWITCHES:-10}
BENCH_NAME=bench-zero-downtime BENCH_ENVIRONMENTS=dev
source scripts/lib/bench_deploy.sh
# The benchmark's images are unsigned: its copy of the pipeline verifies no signature in dev either.
sed -i 's|^    verify: signature.*|    verify: none|' "$WORK/root/pipelines/stockops.yml"

PROBE_PID=""
stop_probe() {
  [[ -n $PROBE_PID ]] || return 0
  touch "$WORK/probe.json.stop"
  wait "$PROBE_PID" || true
  PROBE_PID=""
}
trap 'stop_probe; cleanup' EXIT

seconds=$(release dev aaaaaaa) && echo "dev, first deploy of v1 (environment and proxy start cold): $seconds s"
read -r listing trade _ <<<"${ports[dev]}"
python3 scripts/bench/traffic_probe.py "$WORK/probe.json" \
  "http://127.0.0.1:$listing/stocks?limit=5" "http://127.0.0.1:$trade/portfolio/bench" "http://127.0.0.1:$trade/health" &
PROBE_PID=$!
until [[ -e $WORK/probe.json.ready ]]; do sleep 0.05; done
sleep 5 # traffic at rest before the first switch

# One line per operation: kind, tag, monotonic start, monotonic end, switch seconds.
: >"$WORK/operations"
switch_seconds() { sed -n 's/.*the proxy sends .* after \([0-9.]*\) s.*/\1/p' "$1" | tail -n 1; }
for _ in $(seq 1 "$SWITCHES"); do
  start=$(now)
  release dev ccccccc >/dev/null
  log=$(find "$WORK/root/.stockops/runs" -name deploy.log -printf '%T@ %p\n' | sort -rn | head -n 1 | cut -d' ' -f2-)
  echo "deploy dev-ccccccc $start $(now) $(switch_seconds "$log")" >>"$WORK/operations"
  sleep 2
  start=$(now)
  run_in dev "$STOCKOPS" rollback --root "$WORK/root" --env dev --tag dev-aaaaaaa --yes >"$WORK/rollback.log" 2>&1 \
    || { cat "$WORK/rollback.log" >&2; exit 1; }
  echo "rollback dev-aaaaaaa $start $(now) $(switch_seconds "$WORK/rollback.log")" >>"$WORK/operations"
  sleep 2
done
sleep 3 # traffic at rest after the last switch
stop_probe

python3 - "$WORK/probe.json" "$WORK/operations" <<'PY'
import json, sys

records = json.load(open(sys.argv[1]))
operations = [line.split() for line in open(sys.argv[2]) if line.strip()]

def p99(latencies):
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000

print(f"{'#':>2}  {'operation':<8}  {'tag':<11}  {'wall s':>6}  {'switch s':>8}  {'requests':>8}  {'failed':>6}  {'p99 ms':>7}")
busy = set()
for number, (kind, tag, start, end, *switch) in enumerate(operations, 1):
    start, end = float(start), float(end)
    inside = [r for r in records if start <= r[0] <= end]
    busy.update(id(r) for r in inside)
    failed = sum(1 for r in inside if not r[2])
    print(f"{number:>2}  {kind:<8}  {tag:<11}  {end - start:6.1f}  {(switch[0] if switch else '?'):>8}  {len(inside):>8}  {failed:>6}  {p99([r[1] for r in inside]):7.1f}")
rest = [r for r in records if id(r) not in busy]
during = [r for r in records if id(r) in busy]
failures = [r for r in records if not r[2]]
reconnected = sum(1 for r in records if r[5])
print(f"requests: {len(records)}, failed: {len(failures)}, sent again on a new connection after an idle keep-alive close: {reconnected}")
print(f"p99 latency at rest: {p99([r[1] for r in rest]):.1f} ms ({len(rest)} requests); while deploying or rolling back: {p99([r[1] for r in during]):.1f} ms ({len(during)} requests)")
for record in failures[:10]:
    print(f"  failed: {record[3]}: {record[4]}")
sys.exit(1 if failures else 0)
PY
