#!/usr/bin/env bash
# Measures the image nodes against a real Docker engine and OCI registry (docker-registry):
#   1. a no-change build of both services (target: < 10 s), twice:
#      a. the registry already holds git-<sha7>: the node asks the registry and builds nothing;
#      b. the tag was deleted but every cache is warm: SwiftPM finds the release binaries up to date,
#         Docker reuses its layers and the registry already has the blobs.
#   2. the re-tag of a promotion (manifest GET + PUT with a new client each time) per service
#      (target: < 200 ms).
# The first build (cold) is printed too. Run from the repository root, as root (private dockerd) or
# with DOCKER_HOST set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/docker.sh
source scripts/lib/registry.sh

swift build --product stockops-bench
bench="$(swift build --show-bin-path)/stockops-bench"
docker_engine_start
docker_base_image

workdir="$(mktemp -d "${TMPDIR:-/tmp}/stockops-bench-images-XXXXXX")"
registry_pid=
cleanup() { [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; docker_engine_stop; rm -rf "$workdir"; }
trap cleanup EXIT
registry_start "$workdir/registry"
port="$registry_port"
export STOCKOPS_REGISTRY="127.0.0.1:$port"

echo "== first build (cold tag)"
"$bench" build --scratch-path .build-images
echo "== no-change build, tag present"
"$bench" build --scratch-path .build-images
echo "== no-change build, tag deleted, caches warm"
tag="git-$(git rev-parse --short=7 HEAD)"
for service in stock-listing trade; do
  digest="$(curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://127.0.0.1:$port/v2/stockapp/$service/manifests/$tag" | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}')"
  curl -fsS -X DELETE "http://127.0.0.1:$port/v2/stockapp/$service/manifests/$digest" >/dev/null
done
"$bench" build --scratch-path .build-images

echo "== re-tag (name count median_ms p90_ms total_ms)"
"$bench" retag --registry "127.0.0.1:$port" --repository stockapp/stock-listing stockapp/trade --from "$tag" --count 20
