#!/usr/bin/env bash
# The test of README command 1. Runs scripts/demo.sh in this checkout (CI's checkout is a clean clone of
# main), or with --clone in a fresh `git clone` of HEAD, then checks on its own:
#   - the run record of that `stockops run`: every node has an honest status (passed, skipped with a
#     reason, failed), both images signed and attested (natively, with the sandbox's key from Vault), deploy
#     verified every signature before its smoke test passed, sonar is skipped with its reason,
#     and the GitHub summary was written;
#   - over HTTP, that both services answer on their dev ports with data from the environment's
#     PostgreSQL: the stocks the listing returns are the rows of its `stocks` table, and a buy made
#     through trade is a row of its `trades` table;
#   - that `stockops rollback --env dev --tag <live tag>` works from a plain shell, with only the sandbox's AppRole
#     (the registry login and the public key read from Vault), and `stockops verify` finds the live image's
#     signature, provenance and SBOM;
#   - that `stockops sandbox down` stops the services, the registry, OpenBao and the sandbox's engine
#     (it ends with `sandbox down` also when the sandbox was already up before the test).
# Exits 0 when every check passed, 1 when one failed (each failure is printed), 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

checkout="$PWD"
work="$(mktemp -d "${TMPDIR:-/tmp}/stockops-test-demo-XXXXXX")"
sandbox_down_done=0
# However the test ends, the sandbox it brought up goes down before the clone is deleted.
cleanup() {
  if [ "$sandbox_down_done" = 0 ] && [ -x "$checkout/.build-stockops/debug/stockops" ] && [ -f "$checkout/.stockops/sandbox.env" ]; then
    (cd "$checkout" && .build-stockops/debug/stockops sandbox down >/dev/null 2>&1) || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
case "${1:-}" in
  --clone)
    git clone --quiet "$checkout" "$work/clone"
    checkout="$work/clone"
    ;;
  "") ;;
  *) echo "usage: scripts/test-demo.sh [--clone]" >&2; exit 2 ;;
esac
cd "$checkout"
if [ -n "$(git status --porcelain)" ]; then
  echo "test-demo: the checkout has uncommitted changes; they are part of what is tested"
fi
echo "test-demo: README command 1 (scripts/demo.sh) in $checkout at $(git rev-parse --short HEAD)"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# The demo's default ports (8000, 8001, 5000, 8200) may be taken on a shared runner: when the sandbox is not
# up yet, a taken one is replaced by a free one through the variables the demo and the sandbox read.
source scripts/lib/ports.sh
if [ ! -f .stockops/sandbox.env ]; then
  for pair in LISTING_PORT:8000 TRADE_PORT:8001 SANDBOX_REGISTRY_PORT:5000 SANDBOX_VAULT_PORT:8200; do
    name="${pair%%:*}"
    if [ -z "${!name:-}" ] && port_busy "${pair##*:}"; then
      export "$name=$(free_port)"
      echo "test-demo: 127.0.0.1:${pair##*:} is taken; $name=${!name}"
    fi
  done
fi

export GITHUB_STEP_SUMMARY="$work/summary.md"
: >"$GITHUB_STEP_SUMMARY"
start=$(date +%s)
demo_status=0
scripts/demo.sh >"$work/demo.log" 2>&1 || demo_status=$?
echo "test-demo: scripts/demo.sh exited $demo_status after $(( $(date +%s) - start )) s"
if [ "$demo_status" -ne 0 ]; then
  fail "scripts/demo.sh exited $demo_status; its output ends with:"
  tail -n 60 "$work/demo.log" >&2
fi

stockops="$checkout/.build-stockops/debug/stockops"
# The Docker engine the sandbox uses, as it tells `stockops run`.
engine="$(sed -n 's/^DOCKER_HOST=//p' .stockops/sandbox.env 2>/dev/null || true)"
# The dev environment's Compose project: stocks-dev, or STOCKOPS_COMPOSE_PROJECT (a second copy on a shared engine).
project="${STOCKOPS_COMPOSE_PROJECT:-stocks-dev}"
listing="http://127.0.0.1:${LISTING_PORT:-8000}"
trade="http://127.0.0.1:${TRADE_PORT:-8001}"

if [ "$demo_status" -eq 0 ]; then
  # The run record of the demo's run.
  run_json="$(find .stockops/runs -mindepth 2 -maxdepth 2 -name run.json -printf '%T@ %p\n' | sort -rn | head -n 1 | cut -d' ' -f2-)"
  if [ -z "$run_json" ]; then
    fail "no .stockops/runs/*/run.json after the demo"
  else
    status_of() { jq -r --arg id "$1" '.nodes[] | select(.id == $id) | .status' "$run_json"; }
    reason_of() { jq -r --arg id "$1" '.nodes[] | select(.id == $id) | (.reason // .summary // "")' "$run_json"; }
    bad="$(jq -r '.nodes[] | select((.status | IN("passed", "cached", "skipped", "failed", "timed-out", "blocked", "cancelled")) | not) | "\(.id)=\(.status)"' "$run_json")"
    if [ -z "$bad" ]; then pass "every node of the run has a known status"; else fail "nodes with an unknown status: $bad"; fi
    unexplained="$(jq -r '.nodes[] | select(.status == "skipped" and ((.reason // .summary // "") == "")) | .id' "$run_json")"
    if [ -z "$unexplained" ]; then pass "every skipped node says why"; else fail "skipped without a reason: $unexplained"; fi
    for node in "test[stock-listing]" "test[trade]" "build[stock-listing]" "build[trade]" "sign[stock-listing]" "sign[trade]" "attest[stock-listing]" "attest[trade]" "promote" "deploy"; do
      case "$(status_of "$node")" in
        passed | cached) pass "$node $(status_of "$node")" ;;
        *) fail "$node is $(status_of "$node"), not passed" ;;
      esac
    done
    for node in "sonar[stock-listing]" "sonar[trade]"; do
      if [ "$(status_of "$node")" = skipped ] && reason_of "$node" | grep -Eq 'not set|not installed'; then
        pass "$node skipped: $(reason_of "$node")"
      else
        fail "$node is $(status_of "$node") ($(reason_of "$node")), not skipped with its reason"
      fi
    done
    # The run's report.html in headless Chromium: every node on the graph and the timeline, no console message.
    screenshot="${STOCKOPS_TEST_ARTIFACTS:-$PWD/.build/test-artifacts}/report-demo.png"
    if scripts/check-report.sh "$(dirname "$run_json")" "$screenshot" >"$work/report.out" 2>&1; then
      pass "report.html in headless Chromium: $(tail -n 1 "$work/report.out" | sed 's/^check-report: //') (screenshot: $screenshot)"
    else
      fail "the run's report.html did not pass scripts/check-report.sh:"; cat "$work/report.out" >&2
    fi
  fi
  # dev verifies signatures (pipelines/stockops.yml): the deploy's ledger entry says every digest's signature verified.
  if [ "$(tail -n 1 .stockops/state/dev.ledger.jsonl 2>/dev/null | jq -r .signaturesVerified)" = true ]; then
    pass "deploy verified the signatures of every digest before running it"
  else
    fail "the dev ledger's last entry does not record verified signatures: $(tail -n 1 .stockops/state/dev.ledger.jsonl 2>/dev/null)"
  fi
  if grep -q 'deploy' "$GITHUB_STEP_SUMMARY"; then pass "the GitHub summary was written"; else fail "the GitHub summary at \$GITHUB_STEP_SUMMARY is empty"; fi

  # Over HTTP, against the environment's database.
  db_container="$(DOCKER_HOST="$engine" docker ps --quiet --filter "label=com.docker.compose.project=$project" --filter label=com.docker.compose.service=db)"
  psql_dev() { DOCKER_HOST="$engine" docker exec "$db_container" psql -U stockops -d stockops -tAc "$1"; }
  if [ -z "$db_container" ]; then
    fail "no running db container of the Compose project $project"
  else
    http_symbols="$(curl -fsS "$listing/stocks?limit=1000" | jq -r '.[].symbol' | sort | tr '\n' ' ')" || true
    db_symbols="$(psql_dev 'SELECT symbol FROM stocks ORDER BY symbol' | sort | tr '\n' ' ')" || true
    if [ -n "$db_symbols" ] && [ "$http_symbols" = "$db_symbols" ]; then
      pass "GET $listing/stocks returns the $(wc -w <<<"$db_symbols") rows of the dev database's stocks table"
    else
      fail "GET $listing/stocks returned [$http_symbols], the dev database holds [$db_symbols]"
    fi
    user="test-demo-$(date +%s)"
    code="$(curl -s --max-time 10 -o "$work/buy.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      -d "{\"user_id\":\"$user\",\"symbol\":\"MSFT\",\"quantity\":2,\"price\":411.25}" "$trade/trades/buy")"
    if [ "$code" = 201 ]; then pass "POST $trade/trades/buy answered 201"; else fail "POST $trade/trades/buy answered $code: $(cat "$work/buy.json")"; fi
    rows="$(psql_dev "SELECT symbol || ':' || quantity || ':' || price FROM trades WHERE user_id = '$user'")" || true
    if [ "$rows" = "MSFT:2:411.25" ]; then pass "the buy is a row of the dev database's trades table"; else fail "trades rows of $user: [$rows]"; fi
    held="$(curl -fsS "$trade/portfolio/$user" | jq -r '[.positions[] | select(.symbol == "MSFT") | .quantity] | add')" || true
    if [ "$held" = 2 ]; then pass "GET $trade/portfolio/$user holds 2 MSFT"; else fail "GET $trade/portfolio/$user holds [$held] MSFT"; fi
    # The access log of the live trade container, read from a plain shell (the engine comes from .stockops/sandbox.env).
    if env -u DOCKER_HOST "$stockops" logs --env dev --service trade --since 10m >"$work/logs.out" 2>&1 \
      && grep '"path":"/trades/buy"' "$work/logs.out" | grep -q '"status":201'; then
      pass "stockops logs --env dev --service trade --since 10m shows the buy (POST /trades/buy, 201)"
    else
      fail "stockops logs --env dev --service trade --since 10m does not show the buy; it printed:"
      tail -n 5 "$work/logs.out" >&2
    fi
    if env -u DOCKER_HOST "$stockops" status --env dev >"$work/status.out" 2>&1 && grep -q '^proxy:       traffic to ' "$work/status.out"; then
      pass "stockops status --env dev names the slot the proxy sends traffic to"
    else
      fail "stockops status --env dev:"; cat "$work/status.out" >&2
    fi

    # An SRE's rollback from a plain shell: no DOCKER_HOST, Vault or registry variables of its own; stockops reads
    # the sandbox's engine and AppRole from .stockops/sandbox.env and the registry login from Vault.
    live_tag="$(tail -n 1 .stockops/state/dev.ledger.jsonl 2>/dev/null | jq -r .tag)" || true
    db_port="$(DOCKER_HOST="$engine" docker port "$db_container" 5432/tcp | head -n 1 | sed 's/.*://')" || true
    if env -u DOCKER_HOST -u VAULT_ADDR -u STOCKOPS_REGISTRY_USERNAME -u STOCKOPS_REGISTRY_PASSWORD \
      STOCK_LISTING_PORT="${LISTING_PORT:-8000}" TRADE_PORT="${TRADE_PORT:-8001}" DB_PORT="$db_port" \
      "$stockops" rollback --env dev --tag "$live_tag" --yes >"$work/rollback.log" 2>&1; then
      pass "stockops rollback --env dev --tag $live_tag with only the sandbox's AppRole"
    else
      fail "stockops rollback --env dev --tag $live_tag failed; its output ends with:"
      tail -n 20 "$work/rollback.log" >&2
    fi
    if curl -fsS -o /dev/null --max-time 10 "$trade/portfolio/$user"; then pass "trade answers after the rollback"; else fail "trade does not answer after the rollback"; fi
    # The live image's signature, provenance and SBOM, checked from a plain shell with the key read from Vault.
    if env -u VAULT_ADDR -u STOCKOPS_REGISTRY_USERNAME -u STOCKOPS_REGISTRY_PASSWORD \
      "$stockops" verify "trade:$live_tag" >"$work/verify.log" 2>&1 \
      && grep -q '^provenance:  verified (commit ' "$work/verify.log" && grep -q '^sbom:        verified' "$work/verify.log"; then
      pass "stockops verify trade:$live_tag: signature, provenance and SBOM verified"
    else
      fail "stockops verify trade:$live_tag did not verify everything:"
      cat "$work/verify.log" >&2
    fi
  fi
fi

# The sandbox goes down, and with it what it ran.
if [ -x "$stockops" ]; then
  own_engine=0
  if [ -s .stockops/sandbox/dockerd.pid ]; then own_engine=1; fi
  sandbox_down_done=1
  "$stockops" sandbox down || fail "stockops sandbox down exited $?"
  if [ "$own_engine" = 0 ] && [ -n "$engine" ]; then
    # An engine of the user's own keeps what was deployed to it: the test removes the dev environment itself.
    DOCKER_HOST="$engine" docker-compose -p "$project" down --volumes || fail "docker-compose -p $project down failed"
  fi
  if "$stockops" sandbox status >/dev/null 2>&1; then fail "stockops sandbox status still reports a running sandbox"; else pass "stockops sandbox status reports it stopped"; fi
  for url in "$listing/health" "$trade/health" "http://127.0.0.1:${SANDBOX_VAULT_PORT:-8200}/v1/sys/health" "http://127.0.0.1:${SANDBOX_REGISTRY_PORT:-5000}/v2/"; do
    if curl -s -o /dev/null --max-time 5 "$url"; then fail "$url still answers after sandbox down"; else pass "$url no longer answers"; fi
  done
else
  fail "no stockops binary at $stockops"
fi

if [ "$failures" -ne 0 ]; then
  echo "test-demo: $failures checks failed; the demo's output is in the lines above" >&2
  exit 1
fi
echo "test-demo: every check passed"
