#!/usr/bin/env bash
# Measures the stockops scheduler and CLI:
#   1. a 1,000-node synthetic DAG of no-op stages (target: < 1 s)
#   2. 20 nodes of 200 ms sleeps in 4 independent chains at --jobs 4 (target: ≤ 1.05 × the 1 s critical path)
#   3. `stockops plan` on this repository (target: < 300 ms)
#   4. a repeated `stockops run --env dev --only test --all` served from the cache (target: < 2 s)
# Run from the repository root. Step 4 runs the services' tests once to fill the cache; they need
# STOCKOPS_TEST_DATABASE_URL when the services' tests use PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product stockops
swift build -c release --product stockops-bench
stockops=.build/release/stockops

echo "== scheduler"
.build/release/stockops-bench pipeline --nodes 1000 --chains 4 --length 5 --sleep-ms 200 --jobs 4

echo "== plan"
hyperfine --warmup 3 --runs 20 "$stockops plan"

echo "== cached run"
"$stockops" run --env dev --only test --all --force > /dev/null 2>&1 || {
    echo "the first run failed; see the newest .stockops/runs/*/run.json" >&2
    exit 1
}
hyperfine --warmup 1 --runs 5 "$stockops run --env dev --only test --all --force"
