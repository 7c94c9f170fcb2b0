#!/usr/bin/env bash
# Wall times of README command 1 (scripts/demo.sh):
#   cold       in a fresh `git clone` of HEAD with an empty STOCKOPS_CACHE_DIR: a new Docker engine data
#              directory, base image (debootstrap), stand-in images, registry, OpenBao and SwiftPM build
#              directories; only the Debian and PyPI packages and SwiftPM's package cache are already there;
#   warm       the same command again in that clone, the sandbox still up;
#   no-change  `stockops run --env dev` there (paths-filter against the previous commit: nothing changed).
# Then `stockops sandbox down --purge` and the clone and cache are deleted. Needs no other Docker engine running
# on the machine (the sandbox starts its own, and two engines cannot share the docker0 bridge).
# Usage: scripts/bench-demo.sh [--keep]   (--keep leaves the clone and cache in place and prints where)
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  "") ;;
  *) echo "usage: scripts/bench-demo.sh [--keep]" >&2; exit 2 ;;
esac
if pgrep -x dockerd >/dev/null; then
  echo "bench-demo: a dockerd already runs; stop it first (the cold run starts its own engine)" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/stockops-bench-demo-XXXXXX")"
clone="$work/clone"
export STOCKOPS_CACHE_DIR="$work/cache"
git clone --quiet . "$clone"
cleanup() {
  (cd "$clone" && [ -x .build-stockops/debug/stockops ] && .build-stockops/debug/stockops sandbox down --purge >/dev/null 2>&1) || true
  if [ "$keep" = 1 ]; then echo "kept: $clone (cache $STOCKOPS_CACHE_DIR)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

timed() {  # timed LABEL COMMAND...: runs it in the clone, logs to $work/LABEL.log, appends "LABEL SECONDS" to $work/results
  local label="$1"; shift
  local start end status=0
  start=$(date +%s.%N)
  (cd "$clone" && "$@") >"$work/$label.log" 2>&1 || status=$?
  end=$(date +%s.%N)
  if [ "$status" -ne 0 ]; then
    echo "bench-demo: $label exited $status; its log ends with:" >&2
    tail -n 40 "$work/$label.log" >&2
    keep=1
    exit 1
  fi
  awk -v label="$label" -v start="$start" -v end="$end" 'BEGIN { printf "%s %.1f\n", label, end - start }' | tee -a "$work/results"
}

echo "bench-demo: clone of $(git rev-parse --short HEAD) in $clone, cache $STOCKOPS_CACHE_DIR, $(nproc) cores"
timed cold scripts/demo.sh
timed warm scripts/demo.sh
# sca needs trivy's vulnerability DB, which cannot be downloaded here (the demo leaves it out too).
timed no-change .build-stockops/debug/stockops run --env dev --skip sca

# Each service image as the cold run pushed it: compressed bytes (config and layers) of its manifest in the sandbox's
# registry, found by the repository and digest its build node recorded.
image_sizes() {
  local run="" directory user password
  for directory in "$clone"/.stockops/runs/*/; do  # named by start time: the first is the cold run's
    case "$directory" in *-rollback/) ;; *) run="${directory}run.json"; break ;; esac
  done
  user="$(cut -d: -f1 "$clone/.stockops/sandbox/registry/htpasswd")"
  password="$(cat "$clone/.stockops/sandbox/registry/password")"
  jq -r '.nodes[] | select(.id | startswith("build[")) | .output | "\(.service) \(.repository) \(.digest)"' "$run" |
    while read -r service repository digest; do
      curl -fsS -u "$user:$password" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://${repository%%/*}/v2/${repository#*/}/manifests/$digest" |
        jq -r --arg service "$service" '([.config.size] + [.layers[].size] | add) as $bytes
          | "| \($service) | \($bytes) | \($bytes / 1048576 * 10 | round / 10) | \(.layers | length) |"'
    done
}
sizes="$(image_sizes)"

echo
echo "| run | wall (s) |"
echo "|---|---|"
while read -r label seconds; do echo "| $label | $seconds |"; done <"$work/results"
echo
for label in cold warm no-change; do
  echo "$label: $(grep -h '^run passed in\|^run failed in' "$work/$label.log" | tail -n 1)"
done
echo
echo "| image | compressed bytes | MiB | layers |"
echo "|---|---|---|---|"
echo "$sizes"
