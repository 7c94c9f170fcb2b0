#!/usr/bin/env bash
# `stockops sandbox`: on loopback, what a real runner has, so `stockops run` works with no Harbor,
# Vault or SonarQube of your own.
#   up              a Docker engine ($DOCKER_HOST when it answers, else a private dockerd), the
#                   debian:bookworm-slim base image (debootstrap, once), an OCI registry with
#                   htpasswd standing in for Harbor, and OpenBao (the Vault API) initialised by
#                   vault/init.sh with the policies, AppRoles and secrets; writes .stockops/sandbox.env,
#                   which `stockops run` reads. Running it again starts only what is not running.
#   status          what runs, by PID, and whether it answers.
#   down [--purge]  stops what `up` started, by PID, and nothing else; data is kept unless --purge.
# Environment: SANDBOX_REGISTRY_PORT (5000), SANDBOX_VAULT_PORT (8200).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
state="$root/.stockops/sandbox"
export STOCKOPS_CACHE_DIR="${STOCKOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stockops}"
source scripts/lib/docker.sh
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

registry_port="${SANDBOX_REGISTRY_PORT:-5000}"
vault_port="${SANDBOX_VAULT_PORT:-8200}"
vault_addr="http://127.0.0.1:$vault_port"
robot_user="stockops-robot"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # wait_for WHAT URL LOG
  for _ in $(seq 150); do curl -fsS -o /dev/null "$2" 2>/dev/null && return 0; sleep 0.2; done
  echo "sandbox: $1 did not answer at $2; its log, $3, ends with:" >&2
  tail -n 20 "$3" >&2
  return 3
}

start_engine() {
  if alive "$state/dockerd.pid"; then export DOCKER_HOST; DOCKER_HOST="$(cat "$state/docker_host")"; return 0; fi
  docker_engine_start
  if [ -n "${DOCKER_STARTED_PID:-}" ]; then echo "$DOCKER_STARTED_PID" >"$state/dockerd.pid"; fi
  echo "$DOCKER_HOST" >"$state/docker_host"
  docker_base_image
}

start_registry() {
  alive "$state/registry.pid" && return 0
  if port_busy "$registry_port"; then
    echo "sandbox: 127.0.0.1:$registry_port is taken by another program; set SANDBOX_REGISTRY_PORT" >&2
    return 2
  fi
  mkdir -p "$state/registry/data"
  if [ ! -s "$state/registry/password" ]; then
    (umask 077; openssl rand -hex 16 >"$state/registry/password")
  fi
  htpasswd -Bbn "$robot_user" "$(cat "$state/registry/password")" >"$state/registry/htpasswd" 2>/dev/null
  cat >"$state/registry/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $state/registry/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$registry_port, secret: $(openssl rand -hex 16)}
auth:
  htpasswd: {realm: stockops-sandbox, path: $state/registry/htpasswd}
YAML
  setsid docker-registry serve "$state/registry/config.yml" </dev/null >"$state/registry/registry.log" 2>&1 &
  echo $! >"$state/registry.pid"
  for _ in $(seq 150); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$registry_port/v2/")" = 401 ] && return 0
    sleep 0.2
  done
  echo "sandbox: the registry did not start; see $state/registry/registry.log" >&2
  return 3
}

start_vault() {
  if ! alive "$state/vault.pid"; then
    if port_busy "$vault_port"; then
      echo "sandbox: 127.0.0.1:$vault_port is taken by another program; set SANDBOX_VAULT_PORT" >&2
      return 2
    fi
    mkdir -p "$state/vault/data"
    cat >"$state/vault/config.hcl" <<HCL
storage "raft" {
  path    = "$state/vault/data"
  node_id = "sandbox"
}
listener "tcp" {
  address     = "127.0.0.1:$vault_port"
  tls_disable = true
}
api_addr      = "$vault_addr"
cluster_addr  = "http://127.0.0.1:$((vault_port + 1))"
disable_mlock = true
ui            = false
HCL
    setsid bao server -config "$state/vault/config.hcl" </dev/null >"$state/vault/server.log" 2>&1 &
    echo $! >"$state/vault.pid"
    wait_for OpenBao "$vault_addr/v1/sys/health?uninitcode=200&sealedcode=200" "$state/vault/server.log"
  fi
  # Initialises and unseals (keys kept in vault-out/init.json, readable by this user only), then
  # policies, AppRoles and placeholder secrets; idempotent.
  VAULT_ADDR="$vault_addr" vault/init.sh "$state/vault-out" >"$state/vault/init.log" 2>&1 || {
    echo "sandbox: vault/init.sh failed; see $state/vault/init.log" >&2
    return 3
  }
  # The sandbox's own values: the registry robot, no webhook.
  local headers="$state/vault/token-header"
  (umask 077; printf 'X-Vault-Token: %s\n' "$(jq -r .root_token "$state/vault-out/init.json")" >"$headers")
  jq -n --rawfile password "$state/registry/password" --arg user "$robot_user" \
    '{data: {HARBOR_USERNAME: $user, HARBOR_PASSWORD: ($password | rtrimstr("\n"))}}' |
    curl -fsS -o /dev/null -H @"$headers" -X POST --data-binary @- "$vault_addr/v1/secret/data/harbor/robot"
  jq -n '{data: {SIGNING_KEY: "CHANGE_ME", SLACK_WEBHOOK_URL: ""}}' |
    curl -fsS -o /dev/null -H @"$headers" -X POST --data-binary @- "$vault_addr/v1/secret/data/ci/pipeline"
  rm -f "$headers"
}

write_env() {
  cat >"$root/.stockops/sandbox.env" <<ENV
# Written by \`stockops sandbox up\`; read by \`stockops run\` for variables not already set.
VAULT_ADDR=$vault_addr
VAULT_ROLE_ID_FILE=$state/vault-out/ci/role_id
VAULT_SECRET_ID_FILE=$state/vault-out/ci/secret_id
STOCKOPS_REGISTRY=127.0.0.1:$registry_port
DOCKER_HOST=$DOCKER_HOST
# trivy cannot download its vulnerability DB here: the image scan looks for secrets only.
STOCKOPS_TRIVY_SCANNERS=secret
ENV
}

status() {
  local code=0
  for component in dockerd registry vault; do
    if alive "$state/$component.pid"; then
      echo "$component: running (pid $(cat "$state/$component.pid"))"
    elif [ "$component" = dockerd ] && [ -s "$state/docker_host" ]; then
      echo "dockerd: not started by the sandbox; using $(cat "$state/docker_host")"
    else
      echo "$component: stopped"; code=1
    fi
  done
  if curl -fsS -o /dev/null "$vault_addr/v1/sys/health" 2>/dev/null; then echo "vault: unsealed at $vault_addr"; else echo "vault: not answering or sealed"; code=1; fi
  [ -f "$root/.stockops/sandbox.env" ] && echo "environment: $root/.stockops/sandbox.env"
  return "$code"
}

down() {
  for component in vault registry dockerd; do
    local pidfile="$state/$component.pid"
    if alive "$pidfile"; then
      local pid; pid="$(cat "$pidfile")"
      kill "$pid"
      for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      echo "stopped $component (pid $pid)"
    fi
    rm -f "$pidfile"
  done
  rm -f "$root/.stockops/sandbox.env"
  if [ "${1:-}" = --purge ]; then
    rm -rf "$state"
    echo "purged $state"
  fi
}

case "${1:-}" in
  up)
    mkdir -p "$state"; chmod 700 "$state"
    start_engine
    start_registry
    start_vault
    write_env
    echo "sandbox up: registry 127.0.0.1:$registry_port, Vault API $vault_addr, Docker $DOCKER_HOST"
    echo "environment for stockops run: $root/.stockops/sandbox.env"
    ;;
  status) status ;;
  down) down "${2:-}" ;;
  *) echo "usage: stockops sandbox up | status | down [--purge]" >&2; exit 2 ;;
esac
