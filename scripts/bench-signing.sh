#!/usr/bin/env bash
# Measures native signing and verification per image against a real OCI registry (docker-registry on loopback),
# network included: sign (payload and config blobs, the .sig manifest) target < 300 ms, verify (manifest, payload,
# ECDSA) target < 100 ms. With the sandbox's key (.stockops/sandbox/signing/) when present, else a new key.
# Usage: scripts/bench-signing.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/registry.sh
count="${1:-20}"

swift build --product stockops-bench
bench="$(swift build --show-bin-path)/stockops-bench"
workdir="$(mktemp -d "${TMPDIR:-/tmp}/stockops-bench-signing-XXXXXX")"
registry_pid=
cleanup() { [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$workdir"; }
trap cleanup EXIT
registry_start "$workdir/registry"
port="$registry_port"

key=()
if [ -f .stockops/sandbox/signing/cosign.key ] && [ -f .stockops/sandbox/signing/cosign.password ]; then
  key=(--key .stockops/sandbox/signing/cosign.key)
  STOCKOPS_BENCH_KEY_PASSWORD="$(cat .stockops/sandbox/signing/cosign.password)"
  export STOCKOPS_BENCH_KEY_PASSWORD
fi
echo "== native sign and verify per image (name count median_ms p90_ms total_ms)"
"$bench" sign --registry "127.0.0.1:$port" --count "$count" "${key[@]}"
