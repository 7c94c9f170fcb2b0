#!/usr/bin/env bash
# The whole test suite: installs what is missing, then
#   1. scripts/test-demo.sh: README command 1 (scripts/demo.sh) in this checkout, checked over HTTP, then
#      `stockops sandbox down`. CI's checkout is a clean clone, so this is the demo from a clean clone; it
#      builds what step 2 builds (services/.build with coverage, .build-images, .build-stockops), so step 2 reuses it;
#   2. starts a throwaway PostgreSQL on loopback and a Docker engine (scripts/lib/docker.sh) for the tests,
#      runs `swift test` of the services' package (services/, with coverage, as the pipeline's test nodes build) and
#      of stockops' package (in .build-stockops, where step 1 built stockops), and stops both again however the
#      tests end;
#   3. once both are stopped, scripts/test-workflows.sh: the repository's GitHub Actions workflows run by act on this
#      machine as a self-hosted runner, against a sandbox of their own, with the stockops step 1 built (one binary
#      for every scenario).
# Extra arguments go to both `swift test`s and leave steps 1 and 3 out (e.g. scripts/test.sh --filter TradeServiceTests).
# Under CI (CI=true) or with STOCKOPS_FRESH_ENGINE=1, both steps use a new, empty STOCKOPS_CACHE_DIR (engine data,
# base image) and, when no dockerd runs, a leftover docker0 interface is deleted first: step 1 is then the first
# run on a machine that never ran Docker.
# Exits non-zero when either step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/docker.sh

scripts/install-deps.sh
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/stockops-test-XXXXXX")"
# The fresh engine's data lives apart from workdir: postgres_stop deletes workdir while that engine still runs.
fresh_cache=""
if [ "${CI:-}" = true ] || [ "${STOCKOPS_FRESH_ENGINE:-0}" = 1 ]; then
  fresh_cache="$(mktemp -d "${TMPDIR:-/tmp}/stockops-fresh-engine-XXXXXX")"
  export STOCKOPS_CACHE_DIR="$fresh_cache"
  stockops_cache_dir="$STOCKOPS_CACHE_DIR"  # scripts/lib/docker.sh read it when sourced: step 2's engine uses it too
  mkdir -p "$STOCKOPS_CACHE_DIR"
  if ! pgrep -x dockerd >/dev/null && ip link show docker0 >/dev/null 2>&1; then
    ip link delete docker0 && echo "deleted the docker0 interface an earlier engine left (no dockerd runs)"
  fi
  echo "fresh engine: STOCKOPS_CACHE_DIR=$STOCKOPS_CACHE_DIR"
fi

demo_status=0
if [ "$#" -eq 0 ]; then
  echo "== step 1: README command 1 (scripts/test-demo.sh)"
  scripts/test-demo.sh || demo_status=$?
else
  echo "== steps 1 (README command 1) and 3 (the workflows under act) left out: arguments select part of the suite"
fi
echo "== step 2: swift test"

# The engine's data (overlay mounts) can only go once the engine is stopped; what cannot go is left, not an error.
trap 'docker_engine_stop; postgres_stop "$workdir" || true; if [ -n "$fresh_cache" ]; then rm -rf "$fresh_cache" 2>/dev/null || true; fi' EXIT
postgres_start "$workdir" -c max_connections=500 -c fsync=off -c synchronous_commit=off
export STOCKOPS_TEST_DATABASE_URL="$PG_ADMIN_URL"
# Whatever the tests put in temporary directories goes when the run ends.
mkdir -p "$workdir/tmp" && chmod 755 "$workdir/tmp"
echo "test PostgreSQL on 127.0.0.1:$PG_PORT"
docker_engine_start
docker_base_image
echo "test Docker engine at $DOCKER_HOST"

# stockops' own package in .build-stockops, next to the stockops binary step 1 built (so only its tests compile here).
swift build --build-tests --scratch-path .build-stockops
# The image tests run the pipeline's build node, whose SwiftPM cannot share the lock of the tests' own
# build directory: its release binaries live in .build-images, built here so the node finds them up to date.
for product in stock-listing trade; do
  swift build --package-path services -c release --static-swift-stdlib -Xlinker -s --scratch-path .build-images --product "$product"
done
# The deploy tests run the services' images from these binaries too.
export STOCKOPS_SERVICE_BINARIES="$PWD/.build-images/release"
test_status=0
# The services' package with coverage is built by `swift test` itself, as the pipeline's test nodes build it (step 1
# left it built, and services/Package.swift keeps that build from being redone: see its hummingbird dependency).
TMPDIR="$workdir/tmp" swift test --package-path services --enable-code-coverage "$@" || test_status=$?
TMPDIR="$workdir/tmp" swift test --skip-build --scratch-path .build-stockops "$@" || test_status=$?
# Step 3's sandbox starts its own engine on the same data directory: this one stops first.
docker_engine_stop
postgres_stop "$workdir" || true

workflows_status=0
if [ "$#" -eq 0 ]; then
  echo "== step 3: the workflows under act (scripts/test-workflows.sh)"
  act_bin="$PWD/.build-stockops/debug/stockops"
  [ -x "$act_bin" ] || act_bin=""  # step 1 failed before building it: the script builds one
  STOCKOPS_ACT_BIN="$act_bin" scripts/test-workflows.sh || workflows_status=$?
fi
if [ "$demo_status" -ne 0 ]; then echo "scripts/test-demo.sh (README command 1) failed with $demo_status" >&2; fi
if [ "$workflows_status" -ne 0 ]; then echo "scripts/test-workflows.sh failed with $workflows_status" >&2; fi
if [ "$test_status" -ne 0 ]; then echo "swift test failed with $test_status" >&2; exit "$test_status"; fi
if [ "$demo_status" -ne 0 ]; then exit "$demo_status"; fi
exit "$workflows_status"
