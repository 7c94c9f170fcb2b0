# shellcheck shell=bash
# Sourced by the scripts: a Docker engine for builds and deploys, and the base image the service
# Dockerfiles start from.
#   docker_engine_start   uses $DOCKER_HOST when it answers; otherwise starts a private dockerd (root
#                         only) whose data lives in $STOCKOPS_CACHE_DIR/docker and survives between runs.
#                         Exports DOCKER_HOST; sets DOCKER_STARTED_PID when it started one.
#   docker_base_image     makes sure debian:bookworm-slim exists: `docker pull` is not tried (no internet
#                         here); it is built with debootstrap once and cached as a tarball.
#   docker_engine_stop    stops the dockerd that docker_engine_start started, by PID, and nothing else.
stockops_cache_dir="${STOCKOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stockops}"

docker_engine_start() {
  if [ -n "${DOCKER_HOST:-}" ] && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    return 0
  fi
  local dir="$stockops_cache_dir/docker"
  export DOCKER_HOST="unix://$dir/docker.sock"
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "no Docker engine: set DOCKER_HOST, or apt-get install docker.io for a private dockerd" >&2
    return 3
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "a private dockerd needs root; set DOCKER_HOST to an engine you can use" >&2
    return 3
  fi
  mkdir -p "$dir/data" "$dir/exec"
  rm -f "$dir/docker.sock" "$dir/docker.pid"
  setsid dockerd --data-root "$dir/data" --exec-root "$dir/exec" -H "$DOCKER_HOST" --pidfile "$dir/docker.pid" \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  DOCKER_STARTED_PID=$!
  local tries=0
  until docker version --format '{{.Server.Version}}' >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ] || ! kill -0 "$DOCKER_STARTED_PID" 2>/dev/null; then
      echo "dockerd did not start; its log, $dir/dockerd.log, ends with:" >&2
      tail -n 20 "$dir/dockerd.log" >&2
      return 3
    fi
    sleep 0.5
  done
}

docker_base_image() {
  local image="debian:bookworm-slim"
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  local tarball="$stockops_cache_dir/bookworm-slim.tar"
  mkdir -p "$stockops_cache_dir"
  if [ ! -s "$tarball" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
      echo "cannot make $image: apt-get install debootstrap (or docker pull $image where the internet is reachable)" >&2
      return 3
    fi
    local rootfs
    rootfs="$(mktemp -d "${TMPDIR:-/tmp}/stockops-rootfs-XXXXXX")"
    echo "building $image with debootstrap (a few minutes, once)"
    debootstrap --variant=minbase --include=ca-certificates,libpq5 bookworm "$rootfs" >"$stockops_cache_dir/debootstrap.log" 2>&1 || {
      echo "debootstrap failed; see $stockops_cache_dir/debootstrap.log" >&2
      rm -rf "$rootfs"
      return 3
    }
    rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
    tar -C "$rootfs" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
  fi
  docker import "$tarball" "$image" >/dev/null
}

docker_engine_stop() {
  [ -n "${DOCKER_STARTED_PID:-}" ] || return 0
  kill "$DOCKER_STARTED_PID" 2>/dev/null || true
  local tries=0
  while kill -0 "$DOCKER_STARTED_PID" 2>/dev/null && [ "$tries" -lt 60 ]; do sleep 0.5; tries=$((tries + 1)); done
  kill -9 "$DOCKER_STARTED_PID" 2>/dev/null || true
  DOCKER_STARTED_PID=
}
