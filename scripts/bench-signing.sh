#!/usr/bin/env bash
# Measures native signing and verification per image against a real OCI registry (docker-registry on loopback),
# network included: sign (payload and config blobs, the .sig manifest) target < 300 ms, verify (manifest, payload,
# ECDSA) target < 100 ms. With the sandbox's key (.stockops/sandbox/signing/) when present, else a new key.
# Usage: scripts/bench-signing.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-20}"

swift build --product stockops
stockops="$(swift build --show-bin-path)/stockops"
workdir="$(mktemp -d "${TMPDIR:-/tmp}/stockops-bench-signing-XXXXXX")"
registry_pid=
cleanup() { [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$workdir"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$workdir/registry.yml" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $workdir/data}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$workdir/registry.yml" >"$workdir/registry.log" 2>&1 &
registry_pid=$!
until curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; do sleep 0.2; done

key=()
if [ -f .stockops/sandbox/signing/cosign.key ] && [ -f .stockops/sandbox/signing/cosign.password ]; then
  key=(--key .stockops/sandbox/signing/cosign.key)
  STOCKOPS_BENCH_KEY_PASSWORD="$(cat .stockops/sandbox/signing/cosign.password)"
  export STOCKOPS_BENCH_KEY_PASSWORD
fi
echo "== native sign and verify per image (name count median_ms p90_ms total_ms)"
"$stockops" bench-sign --registry "127.0.0.1:$port" --count "$count" "${key[@]}"
