#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts a throwaway PostgreSQL on loopback and a Docker
# engine (scripts/lib/docker.sh) for the tests, runs `swift test`, and stops both again however the
# tests end.
# Extra arguments go to `swift test` (e.g. scripts/test.sh --filter TradeServiceTests).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/docker.sh

scripts/install-deps.sh
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

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

swift build --build-tests
# The image tests run the pipeline's build node, whose SwiftPM cannot share the lock of the tests' own
# .build: its release binaries live in .build-images, built here so the node finds them up to date.
for product in stock-listing trade; do
  swift build -c release --static-swift-stdlib --scratch-path .build-images --product "$product"
done
TMPDIR="$workdir/tmp" swift test --skip-build "$@"
