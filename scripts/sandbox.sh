#!/usr/bin/env bash
# `stockops sandbox`: on loopback, what a real runner has, so `stockops run` works with no Harbor,
# Vault or SonarQube of your own.
#   up              a Docker engine ($DOCKER_HOST when it answers, else a private dockerd), the
#                   debian:bookworm-slim base image (debootstrap, once), an OCI registry with
#                   htpasswd standing in for Harbor, and OpenBao (the Vault API) initialised by
#                   vault/init.sh with the policies, AppRoles and secrets (also listening on the Docker
#                   bridge gateway, so the environments' Vault Agent reaches it), the database and agent
#                   images of environments/compose.yml (pulled, or the stand-ins of environments/standins/ when
#                   they cannot be pulled); writes .stockops/sandbox.env, which `stockops run` reads, so
#                   its deploy node can run the environments (STOCKOPS_ENVIRONMENTS) in this engine.
#                   Running it again starts only what is not running.
#   status          what runs, by PID, whether it answers, and the environments' containers.
#   down [--purge]  stops what `up` started, by PID, and nothing else; data is kept unless --purge.
#                   The containers of the sandbox's private dockerd (the environments deployed there) are
#                   stopped first; the next deploy starts them again. In an engine of your own they keep
#                   running. --purge also removes the environments (containers, volumes) from its private
#                   dockerd while that runs.
# Environment: SANDBOX_REGISTRY_PORT (5000), SANDBOX_VAULT_PORT (8200).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
# The environments the sandbox can deploy: an AppRole and database settings each (`stockops sandbox up` passes the
# names under environments: in pipelines/stockops.yml).
read -r -a environments <<<"${STOCKOPS_ENVIRONMENTS:-dev stage prod}"
state="$root/.stockops/sandbox"
export STOCKOPS_CACHE_DIR="${STOCKOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stockops}"
source scripts/lib/docker.sh
source scripts/lib/ports.sh
pip_scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH="$pip_scripts:$PATH"

registry_port="${SANDBOX_REGISTRY_PORT:-5000}"
vault_port="${SANDBOX_VAULT_PORT:-8200}"
vault_addr="http://127.0.0.1:$vault_port"
robot_user="stockops-robot"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
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
}

# The address containers reach the host at (host-gateway): Vault listens there too, when it is on this machine.
# The bridge network's IPAM gateway when the engine reports one; an engine created on a machine that had no
# docker0 before reports only the subnet, so the bridge interface's own IPv4 address is read instead. Fails
# (exit 3) when neither gives an address of this machine: the environments' Vault Agent could not reach Vault.
find_bridge_gateway() {
  local interface
  bridge_gateway="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)"
  if [ -z "$bridge_gateway" ]; then
    interface="$(docker network inspect bridge --format '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null || true)"
    if [ -n "$interface" ]; then
      bridge_gateway="$(ip -o -4 addr show dev "$interface" 2>/dev/null | awk 'NR == 1 {split($4, a, "/"); print a[1]}')"
    fi
  fi
  if [ -n "$bridge_gateway" ] && ip -o -4 addr show 2>/dev/null | grep -F " $bridge_gateway/" >/dev/null; then
    return 0
  fi
  if [ -n "${VAULT_AGENT_ADDR:-}" ]; then
    echo "sandbox: no Docker bridge address on this machine; the environments' Vault Agent uses VAULT_AGENT_ADDR=$VAULT_AGENT_ADDR"
    bridge_gateway=""
    return 0
  fi
  echo "sandbox: cannot tell the address containers reach this machine at (bridge network of $DOCKER_HOST:" \
    "gateway '${bridge_gateway}', interface '${interface:-none}'); set VAULT_AGENT_ADDR to a Vault address" \
    "the environments' containers can reach, then run \`stockops sandbox up\` again" >&2
  return 3
}

# The official image when the engine has it or can pull it within a minute; otherwise "".
official_image() {
  docker image inspect "$1" >/dev/null 2>&1 && { echo "$1"; return 0; }
  [ -e "$state/no-pull" ] && return 0
  if timeout 60 docker pull --quiet "$1" >/dev/null 2>&1; then echo "$1"; else touch "$state/no-pull"; fi
}

# The database, Vault Agent and proxy images of environments/compose.yml (POSTGRES_IMAGE, VAULT_AGENT_IMAGE, PROXY_IMAGE).
choose_environment_images() {
  postgres_image="$(official_image postgres:15-bookworm)"
  agent_image="$(official_image openbao/openbao:2.7.2)"
  proxy_image="$(official_image haproxy:2.6-bookworm)"
  if [ -n "$postgres_image" ] && [ -n "$agent_image" ] && [ -n "$proxy_image" ]; then return 0; fi
  echo "sandbox: the official postgres, openbao and haproxy images cannot be pulled; using the stand-ins of environments/standins/ (built when they changed)"
  environments/standins/build.sh >"$state/standins.log" 2>&1 || {
    echo "sandbox: environments/standins/build.sh failed; see $state/standins.log" >&2
    return 3
  }
  postgres_image="${postgres_image:-stockops-local/postgres:15}"
  agent_image="${agent_image:-stockops-local/openbao:2}"
  proxy_image="${proxy_image:-stockops-local/haproxy:2.6}"
}

own_engine() { [ "$DOCKER_HOST" = "unix://$stockops_cache_dir/docker/docker.sock" ]; }

# The environments' Compose projects (stocks-<env>) with a database volume in the engine.
environment_projects() {
  local volume
  for volume in $(docker volume ls --quiet --filter label=com.docker.compose.volume=pgdata); do
    docker volume inspect --format '{{index .Labels "com.docker.compose.project"}}' "$volume"
  done | grep -E "^stocks-($(IFS='|'; echo "${environments[*]}"))\$" | sort -u || true
}

# Removes the containers and volumes of the environments deployed to the engine.
remove_environments() {
  local project ids
  for project in $(environment_projects); do
    ids="$(docker ps --all --quiet --filter "label=com.docker.compose.project=$project")"
    # shellcheck disable=SC2086 # one container id per word
    [ -z "$ids" ] || docker rm --force $ids >/dev/null
    ids="$(docker volume ls --quiet --filter "label=com.docker.compose.project=$project")"
    # shellcheck disable=SC2086 # one volume name per word
    [ -z "$ids" ] || docker volume rm $ids >/dev/null
    echo "removed the $project environment (containers and volumes) from the sandbox's Docker engine"
  done
}

# The environments' database password, made once: a database volume keeps the password it was made with, so the
# password lives as long as the volumes do, beside the engine's data for the sandbox's own engine (shared by every
# checkout using it) and in this checkout's sandbox state for an engine of your own.
ensure_db_password() {
  if own_engine; then db_password_file="$stockops_cache_dir/docker/sandbox-db-password"; else db_password_file="$state/db-password"; fi
  [ -s "$db_password_file" ] && return 0
  (umask 077; openssl rand -hex 16 >"$db_password_file")
  if [ -z "$(environment_projects)" ]; then return 0; fi
  if own_engine; then
    # Made with a password that is gone: no deploy could open them again.
    remove_environments
  else
    echo "sandbox: $DOCKER_HOST holds environment database volumes made with another password; remove them" \
      "(docker-compose -p stocks-dev down --volumes) before deploying there" >&2
  fi
}

# The key pair sign[*] signs with, in cosign's format (scripts/lib/cosign_keypair.py), kept with the
# sandbox's state so that images signed earlier still verify.
ensure_signing_key() {
  signing_key_dir="$state/signing"
  [ -s "$signing_key_dir/cosign.key" ] && [ -s "$signing_key_dir/cosign.pub" ] && [ -f "$signing_key_dir/cosign.password" ] && return 0
  python3 scripts/lib/cosign_keypair.py "$signing_key_dir"
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
$(if [ -n "$bridge_gateway" ]; then printf 'listener "tcp" {\n  address     = "%s:%s"\n  tls_disable = true\n}\n' "$bridge_gateway" "$vault_port"; fi)
api_addr      = "$vault_addr"
cluster_addr  = "http://127.0.0.1:$((vault_port + 1))"
disable_mlock = true
ui            = false
HCL
    setsid bao server -config "$state/vault/config.hcl" </dev/null >"$state/vault/server.log" 2>&1 &
    echo $! >"$state/vault.pid"
    wait_for OpenBao "$vault_addr/v1/sys/health?uninitcode=200&sealedcode=200" "$state/vault/server.log"
  fi
  if [ -n "$bridge_gateway" ] && ! curl -s -o /dev/null "http://$bridge_gateway:$vault_port/v1/sys/health"; then
    echo "sandbox: OpenBao does not listen on the Docker gateway $bridge_gateway: run \`stockops sandbox down\` and \`up\` again" >&2
    return 3
  fi
  # Initialises (the sandbox keeps its unseal keys in vault-out/unseal-keys.json, readable by this user only, and
  # unseals from them after a restart), then policies, AppRoles and placeholder secrets; the root token is revoked
  # after the first run and later runs log in with the admin AppRole; idempotent.
  STOCKOPS_ENVIRONMENTS="${environments[*]}" VAULT_ADDR="$vault_addr" VAULT_UNSEAL_KEYS_FILE="$state/vault-out/unseal-keys.json" vault/init.sh "$state/vault-out" >"$state/vault/init.log" 2>&1 || {
    echo "sandbox: vault/init.sh failed; see $state/vault/init.log" >&2
    return 3
  }
  # The sandbox's own values: the registry robot, the signing key pair, no webhook.
  local headers="$state/vault/token-header" admin_token
  admin_token="$(jq -n --rawfile role "$state/vault-out/admin/role_id" --rawfile secret "$state/vault-out/admin/secret_id" '{role_id: $role, secret_id: $secret}' |
    curl -fsS -X POST --data-binary @- "$vault_addr/v1/auth/approle/login" | jq -r .auth.client_token)"
  (umask 077; printf 'X-Vault-Token: %s\n' "$admin_token" >"$headers")
  jq -n --rawfile password "$state/registry/password" --arg user "$robot_user" \
    '{data: {HARBOR_USERNAME: $user, HARBOR_PASSWORD: ($password | rtrimstr("\n"))}}' |
    curl -fsS -o /dev/null -H @"$headers" -X POST --data-binary @- "$vault_addr/v1/secret/data/harbor/robot"
  ensure_signing_key
  jq -n --rawfile key "$signing_key_dir/cosign.key" --rawfile password "$signing_key_dir/cosign.password" \
    --rawfile public "$signing_key_dir/cosign.pub" \
    '{data: {SIGNING_KEY: $key, SIGNING_KEY_PASSWORD: $password, SIGNING_PUBLIC_KEY: $public, SLACK_WEBHOOK_URL: ""}}' |
    curl -fsS -o /dev/null -H @"$headers" -X POST --data-binary @- "$vault_addr/v1/secret/data/ci/pipeline"
  ensure_db_password
  # Each environment's database settings at secret/<env>/db/stockops, which only its app-<env> role reads.
  for environment in "${environments[@]}"; do
    jq -n --rawfile password "$db_password_file" \
      '($password | rtrimstr("\n")) as $p | {data: {username: "stockops", password: $p, url: "postgres://stockops:\($p)@db:5432/stockops"}}' |
      curl -fsS -o /dev/null -H @"$headers" -X POST --data-binary @- "$vault_addr/v1/secret/data/$environment/db/stockops"
  done
  curl -fsS -o /dev/null -H @"$headers" -X POST "$vault_addr/v1/auth/token/revoke-self"
  rm -f "$headers"
  # Each environment's Vault Agent runs as 10001:10001 and reads its own AppRole's files (app-<env>), and only those.
  local approle
  for environment in "${environments[@]}"; do
    approle="$state/vault-out/app-$environment"
    if chgrp -R 10001 "$approle" 2>/dev/null; then
      chmod 750 "$approle"; chmod 640 "$approle/role_id" "$approle/secret_id"
    else
      chmod 755 "$approle"; chmod 644 "$approle/role_id" "$approle/secret_id"
      echo "sandbox: cannot give $approle to group 10001 (not root); its AppRole files are now readable by every local user" >&2
    fi
  done
}

# The EXIT trap of `up` while the registry and OpenBao start in the background: waits for them, keeps the exit status.
await_services() {
  local status=$?
  wait "$services_pid" 2>/dev/null || true
  exit "$status"
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
# For the deploy node's Compose environments (environments/README.md).
VAULT_APPROLE_DIR=$state/vault-out
POSTGRES_IMAGE=$postgres_image
VAULT_AGENT_IMAGE=$agent_image
PROXY_IMAGE=$proxy_image
ENV
  if [ -n "$bridge_gateway" ]; then
    echo "VAULT_AGENT_ADDR=http://host.docker.internal:$vault_port" >>"$root/.stockops/sandbox.env"
  else
    echo "VAULT_AGENT_ADDR=$VAULT_AGENT_ADDR" >>"$root/.stockops/sandbox.env"
  fi
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
  if [ -s "$state/docker_host" ] && DOCKER_HOST="$(cat "$state/docker_host")" docker version >/dev/null 2>&1; then
    DOCKER_HOST="$(cat "$state/docker_host")" docker ps --filter label=com.docker.compose.project \
      --format 'container {{.Names}}: {{.Status}} {{.Ports}}'
  fi
  return "$code"
}

# `status --json`: one document with schemaVersion (docs/schemas/stockops-json.schema.json, sandbox-status).
status_json() {
  local code=0 components='{}' component pid running answering=false containers='[]' engine=""
  for component in dockerd registry vault; do
    pid=null; running=false
    if alive "$state/$component.pid"; then
      pid="$(cat "$state/$component.pid")"; running=true
    elif [ "$component" = dockerd ] && [ -s "$state/docker_host" ]; then
      running=true
    else
      code=1
    fi
    components="$(jq -c --arg name "$component" --argjson pid "$pid" --argjson running "$running" '. + {($name): {running: $running, pid: $pid}}' <<<"$components")"
  done
  if curl -fsS -o /dev/null "$vault_addr/v1/sys/health" 2>/dev/null; then answering=true; else code=1; fi
  [ -s "$state/docker_host" ] && engine="$(cat "$state/docker_host")"
  if [ -n "$engine" ] && DOCKER_HOST="$engine" docker version >/dev/null 2>&1; then
    containers="$(DOCKER_HOST="$engine" docker ps --filter label=com.docker.compose.project --format '{{json .}}' \
      | jq -sc 'map({name: .Names, status: .Status, ports: .Ports})')"
  fi
  jq -n --argjson components "$components" --argjson answering "$answering" --arg vault "$vault_addr" --arg engine "$engine" \
    --arg env "$( [ -f "$root/.stockops/sandbox.env" ] && echo "$root/.stockops/sandbox.env" )" --argjson containers "$containers" \
    '{schemaVersion: 1, components: $components, vault: {address: $vault, unsealed: $answering},
      dockerHost: (if $engine == "" then null else $engine end), environmentFile: (if $env == "" then null else $env end),
      containers: $containers}'
  return "$code"
}

down() {
  # What runs in the sandbox's own engine (the environments stockops deployed there) is stopped first, so
  # the engine does not restart it by itself; the next deploy starts it again, with its volumes.
  if alive "$state/dockerd.pid"; then
    export DOCKER_HOST; DOCKER_HOST="$(cat "$state/docker_host")"
    local running; running="$(docker ps --quiet 2>/dev/null || true)"
    if [ -n "$running" ]; then
      # shellcheck disable=SC2086 # one container id per word
      docker stop --time 10 $running >/dev/null
      echo "stopped $(wc -w <<<"$running") containers in the sandbox's Docker engine"
    fi
  elif [ -s "$state/docker_host" ]; then
    echo "the environments deployed to $(cat "$state/docker_host") keep running: that engine is not the sandbox's"
  fi
  if [ "${1:-}" = --purge ] && alive "$state/dockerd.pid"; then
    remove_environments
    rm -f "$stockops_cache_dir/docker/sandbox-db-password"
  fi
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
    find_bridge_gateway
    # The registry and OpenBao start while the images are made: the base image (debootstrap on a first run) and
    # the stand-ins take longest and need only the engine. The subshell stops at its first failure (set -e).
    (start_registry; start_vault) &
    services_pid=$!
    # Whatever fails below, the registry and OpenBao have started or failed before the script ends.
    trap await_services EXIT
    docker_base_image
    choose_environment_images
    wait "$services_pid"
    trap - EXIT
    write_env
    echo "sandbox up: registry 127.0.0.1:$registry_port, Vault API $vault_addr, Docker $DOCKER_HOST"
    echo "environment for stockops run: $root/.stockops/sandbox.env"
    ;;
  status) if [ "${2:-}" = --json ]; then status_json; else status; fi ;;
  down) down "${2:-}" ;;
  *) echo "usage: stockops sandbox up | status [--json] | down [--purge]" >&2; exit 2 ;;
esac
