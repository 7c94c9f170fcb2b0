#!/usr/bin/env bash
# The main job on an embedded default, with no Vault, Harbor or SonarQube of your own:
#   1. installs what is missing and builds stockops (into .build-stockops), while
#   2. `stockops sandbox up` (scripts/sandbox.sh up, started at the same time) starts a Docker engine, a registry standing in for Harbor, OpenBao for Vault, and
#      the database and Vault Agent images of the environments;
#   3. runs `stockops run --env dev --all --skip sca` in the sandbox: fetch-secrets, paths-filter,
#      secret-scan, sast, each service's tests and coverage gate (each test node starts a throwaway PostgreSQL of
#      the machine's server binaries when STOCKOPS_TEST_DATABASE_URL is not set), its image built once, pushed, scanned,
#      with SBOMs, signed natively in cosign's format with the sandbox's key from Vault (sonar is reported
#      skipped: no SonarQube here), promoted
#      to dev-<sha7> and deployed to the dev environment (Compose: PostgreSQL, Vault Agent, both
#      services), smoke-tested there;
#   4. checks both services over HTTP on the dev ports and prints the URLs and curl lines that answer.
# The dev environment and the sandbox keep running afterwards: `stockops sandbox down` stops them (their
# data stays in .stockops/sandbox and the engine's volumes; `stockops sandbox down --purge` drops it).
# Environment: LISTING_PORT (8000), TRADE_PORT (8001), DB_PORT (5432, or a free port when taken),
# STOCKOPS_DEMO_SCA=1 to run sca too (it needs trivy's vulnerability DB).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ports.sh

listing_port="${LISTING_PORT:-8000}"
trade_port="${TRADE_PORT:-8001}"
# Held by Docker's port proxy: an earlier deploy of the environment, which the new one replaces.
docker_holds_port() { ss -Hltnp "sport = :$1" 2>/dev/null | grep '"docker-proxy"' >/dev/null; }

scripts/install-deps.sh
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

mkdir -p .stockops
sandbox_log="$PWD/.stockops/sandbox-up.log"
sandbox_pid=""
trap 'if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; fi; exit 130' INT TERM

# The sandbox (`stockops sandbox up` runs scripts/sandbox.sh up) starts while stockops compiles: it needs no
# stockops binary, and its engine, base image and stand-in images are mostly waiting on disk and network.
echo "== building stockops, and stockops sandbox up at the same time (its log: $sandbox_log)"
started=$(date +%s)
scripts/sandbox.sh up >"$sandbox_log" 2>&1 &
sandbox_pid=$!
# Its own build directory: the pipeline's test nodes build the services' package (services/.build) with coverage
# and its build nodes .build-images, so none of the three invalidates another.
build_status=0
swift build --product stockops --scratch-path .build-stockops || build_status=$?
built=$(date +%s)
sandbox_status=0
wait "$sandbox_pid" || sandbox_status=$?
sandbox_pid=""
# The sandbox's time is its log's last write: where a cold start waits, the longer of the two.
echo "== stockops sandbox up (stockops built in $((built - started)) s, the sandbox up in $(($(stat -c %Y "$sandbox_log") - started)) s)"
cat "$sandbox_log"
if [ "$build_status" -ne 0 ]; then
  echo "swift build --product stockops failed with $build_status (above)" >&2
  exit "$build_status"
fi
if [ "$sandbox_status" -ne 0 ]; then
  echo "stockops sandbox up failed with $sandbox_status: see $sandbox_log (above)" >&2
  exit "$sandbox_status"
fi
stockops="$PWD/.build-stockops/debug/stockops"

# The dev environment publishes its ports on 127.0.0.1; a port another program holds is replaced.
export STOCK_LISTING_PORT="$listing_port" TRADE_PORT="$trade_port"
if [ -z "${DB_PORT:-}" ]; then
  DB_PORT=5432
  if port_busy 5432 && ! docker_holds_port 5432; then DB_PORT="$(free_port)"; fi
  export DB_PORT
fi

# sca needs trivy's vulnerability DB, downloaded from the internet: without it the node fails as an
# infrastructure error (exit 3), so the demo leaves it out unless STOCKOPS_DEMO_SCA=1.
skip=(--skip sca)
if [ "${STOCKOPS_DEMO_SCA:-0}" = 1 ]; then skip=(); fi
echo "== stockops run --env dev --all ${skip[*]}"
status=0
"$stockops" run --env dev --all "${skip[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "stockops run exited $status: see the newest .stockops/runs/*/run.json and its logs/" >&2
  exit "$status"
fi

echo "== checking the dev environment over HTTP"
listing="http://127.0.0.1:$listing_port"
trade="http://127.0.0.1:$trade_port"
curl -fsS "$listing/health" >/dev/null
curl -fsS "$trade/health" >/dev/null
curl -fsS "$listing/stocks/AAPL" | grep '"AAPL"' >/dev/null
curl -fsS -X POST -H 'Content-Type: application/json' \
  -d '{"user_id":"demo","symbol":"AAPL","quantity":3,"price":182.52}' "$trade/trades/buy" >/dev/null
curl -fsS "$trade/portfolio/demo" | grep '"AAPL"' >/dev/null

latest_run="$(find .stockops/runs -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn | head -n 1 | cut -d' ' -f2-)"
cat <<TXT

The pipeline passed and the dev environment answers (Compose project stocks-dev: PostgreSQL, Vault Agent, both services):
  stock-listing  $listing   (metrics: /metrics)
  trade          $trade

  curl $listing/health
  curl $listing/stocks
  curl $listing/stocks/AAPL/price
  curl -X POST -H 'Content-Type: application/json' \\
       -d '{"user_id":"demo","symbol":"AAPL","quantity":3,"price":182.52}' $trade/trades/buy
  curl $trade/portfolio/demo
  curl '$trade/trades?user_id=demo'

  $stockops status --env dev        what runs there, from the deploy ledger
  $stockops sandbox down            stops the environment and the sandbox (--purge also drops their data)

Run record: $latest_run/run.json
TXT
