#!/usr/bin/env bash
# The whole test suite: installs what is missing, then
#   1. scripts/test-demo.sh: README command 1 (scripts/demo.sh) in this checkout, checked over HTTP, then
#      `stockops sandbox down`. CI's checkout is a clean clone, so this is the demo from a clean clone; it
#      builds what step 2 builds (.build with coverage, .build-images), so step 2 reuses it;
#   2. starts a throwaway PostgreSQL on loopback and a Docker engine (scripts/lib/docker.sh) for the tests,
#      runs `swift test` (with coverage, as the pipeline's test nodes build), and stops both again however
#      the tests end.
# Extra arguments go to `swift test` and leave step 1 out (e.g. scripts/test.sh --filter TradeServiceTests).
# Exits non-zero when either step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/docker.sh

scripts/install-deps.sh
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

demo_status=0
if [ "$#" -eq 0 ]; then
  echo "== step 1: README command 1 (scripts/test-demo.sh)"
  scripts/test-demo.sh || demo_status=$?
else
  echo "== step 1 (README command 1) left out: arguments select part of the suite"
fi
echo "== step 2: swift test"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/stockops-test-XXXXXX")"
trap 'postgres_stop "$workdir"; docker_engine_stop' EXIT
postgres_start "$workdir" -c max_connections=500 -c fsync=off -c synchronous_commit=off
export STOCKOPS_TEST_DATABASE_URL="$PG_ADMIN_URL"
# Whatever the tests put in temporary directories goes when the run ends.
mkdir -p "$workdir/tmp" && chmod 755 "$workdir/tmp"
echo "test PostgreSQL on 127.0.0.1:$PG_PORT"
docker_engine_start
docker_base_image
echo "test Docker engine at $DOCKER_HOST"

swift build --build-tests --enable-code-coverage
# The image tests run the pipeline's build node, whose SwiftPM cannot share the lock of the tests' own
# .build: its release binaries live in .build-images, built here so the node finds them up to date.
for product in stock-listing trade; do
  swift build -c release --static-swift-stdlib --scratch-path .build-images --product "$product"
done
# The deploy tests run the services' images from these binaries too.
export STOCKOPS_SERVICE_BINARIES="$PWD/.build-images/release"
test_status=0
TMPDIR="$workdir/tmp" swift test --skip-build --enable-code-coverage "$@" || test_status=$?
if [ "$demo_status" -ne 0 ]; then echo "scripts/test-demo.sh (README command 1) failed with $demo_status" >&2; fi
if [ "$test_status" -ne 0 ]; then echo "swift test failed with $test_status" >&2; exit "$test_status"; fi
exit "$demo_status"
