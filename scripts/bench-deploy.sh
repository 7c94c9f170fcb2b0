#!/usr/bin/env bash
# Measures deploys with the real pieces on this machine (scripts/lib/bench_deploy.sh): a Docker engine, a local
# registry, an OpenBao dev server whose AppRoles the Vault Agent sidecars log in with, and the stand-in images of
# environments/standins/. It builds the services' images, pushes two versions as git-<sha7>, and reports:
#   1. stage: first deploy (cold start of the environment), then a second version (containers recreated);
#   2. promotion from stage to prod: the first (prod starts cold), then one onto a running prod;
#   3. `stockops rollback` in prod between two tags whose images are on the host, smoke test included,
#      ROLLBACKS times (default 5; target: < 20 s each).
# Every step runs the release stockops binary (STOCKOPS overrides it; promote + deploy run through stockops-bench deploy, STOCKOPS_BENCH); the services are release builds with
# the Swift runtime linked in (.build-images, as the pipeline's build node makes them). Everything it starts
# is stopped by PID or `compose down -v` at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/docker.sh
source scripts/lib/ports.sh

ROLLBACKS=${ROLLBACKS:-5}
BENCH_NAME=bench-deploy BENCH_ENVIRONMENTS="stage prod"
source scripts/lib/bench_deploy.sh

seconds=$(release stage aaaaaaa) && echo "stage, first deploy (cold start):           $seconds s"
seconds=$(release stage ccccccc) && echo "stage, second version (recreate):           $seconds s"
seconds=$(release prod ccccccc refs/tags/v1.0.0) && echo "stage → prod as v1.0.0 (prod cold start):   $seconds s"
seconds=$(release prod aaaaaaa refs/tags/v1.1.0) && echo "stage → prod as v1.1.0 (prod running):      $seconds s"

times=()
for i in $(seq 1 "$ROLLBACKS"); do
  tag=v1.0.0
  if (( i % 2 == 0 )); then tag=v1.1.0; fi
  start=$(now)
  run_in prod "$STOCKOPS" rollback --root "$WORK/root" --env prod --tag "$tag" --yes >"$WORK/rollback.log" 2>&1 \
    || { cat "$WORK/rollback.log" >&2; exit 1; }
  times+=("$(elapsed "$start")")
done
printf 'prod rollback, images on the host, smoke test included (%s runs): %s s (median %s s)\n' "$ROLLBACKS" "${times[*]}" \
  "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
