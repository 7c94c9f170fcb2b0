# shellcheck shell=bash
# Sourced by scripts/bench-deploy.sh and scripts/bench-zero-downtime.sh: the real pieces of a deploy on this machine
# (a Docker engine, a local registry, an OpenBao dev server whose AppRoles the Vault Agent sidecars log in with, the
# stand-in images of environments/standins/) and two versions of the services' images, pushed as git-aaaaaaa (v1) and
# git-ccccccc (v2, another label on the same binaries). Set BENCH_NAME and BENCH_ENVIRONMENTS (such as "stage prod")
# before sourcing. Defines:
#   run_in ENV COMMAND…    runs COMMAND with the environment's variables (its own project and free ports)
#   release ENV COMMIT [REF]  promote + deploy of COMMIT's images with the release stockops binary; prints the seconds
#   now, elapsed START     monotonic seconds
# Everything it starts is stopped by PID or `compose down -v` on exit.
for tool in docker docker-compose docker-registry bao curl python3; do
  command -v "$tool" >/dev/null || { echo "$BENCH_NAME: $tool is required (scripts/install-deps.sh)" >&2; exit 3; }
done

now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

docker_engine_start
docker_base_image
if [[ -z ${STOCKOPS-} ]]; then
  swift build -c release --product stockops >/dev/null
  STOCKOPS=$PWD/.build/release/stockops
fi
if [[ -z ${STOCKOPS_BENCH-} ]]; then
  swift build -c release --product stockops-bench >/dev/null
  STOCKOPS_BENCH=$PWD/.build/release/stockops-bench
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stockops-$BENCH_NAME-XXXXXX")
chmod 755 "$WORK"
for product in stock-listing trade; do
  swift build --package-path services -c release --static-swift-stdlib -Xlinker -s --scratch-path .build-images --product "$product" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log" >&2; exit 1; }
done
BIN=$PWD/.build-images/release
environments/standins/build.sh >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }

REGISTRY_PID="" VAULT_PID=""
REGISTRY_PORT=$(free_port)
REGISTRY=127.0.0.1:$REGISTRY_PORT
cleanup() {
  for env in $BENCH_ENVIRONMENTS; do
    if [[ -f $WORK/root/environments/compose.yml ]]; then
      STOCKOPS_ENVIRONMENT=$env REGISTRY=$REGISTRY STOCKOPS_PROXY_DIR="$WORK/state/proxy/bench-$env" VAULT_ADDR=none VAULT_APPROLE_DIR="$WORK/approle" \
        STOCK_LISTING_PORT=0 TRADE_PORT=0 DB_PORT=0 \
        docker-compose -p "bench-$env" -f "$WORK/root/environments/compose.yml" down --volumes --remove-orphans >/dev/null 2>&1 || true
    fi
  done
  mapfile -t pushed < <(docker image ls --format '{{.Repository}}:{{.Tag}}' --filter "reference=$REGISTRY/*/*" 2>/dev/null || true)
  if [[ ${#pushed[@]} -gt 0 ]]; then docker image rm "${pushed[@]}" >/dev/null 2>&1 || true; fi
  if [[ -n $VAULT_PID ]]; then kill "$VAULT_PID" 2>/dev/null || true; wait "$VAULT_PID" 2>/dev/null || true; fi
  if [[ -n $REGISTRY_PID ]]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
  docker_engine_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- Registry, OpenBao, the services' images -------------------------------------------------
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: $REGISTRY
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
REGISTRY_PID=$!

gateway=$(docker run --rm --add-host gateway.probe:host-gateway debian:bookworm-slim getent hosts gateway.probe | awk '{print $1}')
VAULT_PORT=$(free_port)
BAO_DEV_ROOT_TOKEN_ID=$(python3 -c 'import secrets; print("root-" + secrets.token_hex(16))')
export BAO_DEV_ROOT_TOKEN_ID
env -u VAULT_TOKEN -u BAO_TOKEN bao server -dev -dev-no-store-token "-dev-listen-address=$gateway:$VAULT_PORT" >"$WORK/vault.log" 2>&1 &
VAULT_PID=$!
for _ in $(seq 1 300); do
  curl --silent --fail --output /dev/null "http://$gateway:$VAULT_PORT/v1/sys/health" && curl --silent --fail --output /dev/null "http://$REGISTRY/v2/" && break
  sleep 0.1
done
export BAO_ADDR=http://$gateway:$VAULT_PORT BAO_TOKEN=$BAO_DEV_ROOT_TOKEN_ID
unset BAO_DEV_ROOT_TOKEN_ID
bao auth enable approle >/dev/null
password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
# Each environment's agent logs in with its own AppRole (app-<env>) and reads secret/<env>/ only.
for env in $BENCH_ENVIRONMENTS; do
  sed "s/ENVIRONMENT/$env/g" vault/policies/app.hcl.template | bao policy write "app-$env" - >/dev/null
  bao write "auth/approle/role/app-$env" token_policies="app-$env" >/dev/null
  mkdir -p "$WORK/approle/app-$env"
  bao read -field=role_id "auth/approle/role/app-$env/role-id" >"$WORK/approle/app-$env/role_id"
  bao write -f -field=secret_id "auth/approle/role/app-$env/secret-id" >"$WORK/approle/app-$env/secret_id"
  bao kv put -mount=secret "$env/db/stockops" password="$password" url="postgres://stockops:$password@db:5432/stockops" >/dev/null
done
chgrp -R 10001 "$WORK/approle" && chmod -R u=rwX,g=rX,o= "$WORK/approle"
unset BAO_TOKEN password

mkdir -p "$WORK/root/pipelines" "$WORK/root/vault/agent"
cp -r environments "$WORK/root/"
cp vault/agent/agent.hcl "$WORK/root/vault/agent/"
# The benchmark's images are unsigned and nobody approves: its copy of the pipeline verifies no signature and needs no
# approval (the cost of verification is measured by scripts/bench-signing.sh), and prod takes the stage digests with
# --force-unverified (no stage proof without the signing key).
sed -e "s|host: localhost:5000|host: $REGISTRY|" -e 's|    tag: stage-{sha7}|    tag: stage-{sha7}\n    verify: none|' \
  -e 's|    approval: true|    approval: false\n    verify: none|' pipelines/stockops.yml >"$WORK/root/pipelines/stockops.yml"

# push VARIANT COMMIT: builds stockops-bench/<service>:VARIANT (v1, or v2 with another label) and pushes it
# as git-COMMIT; writes the BuiltImage of each service to $WORK/builds-COMMIT/<service>.json.
push() {
  local variant=$1 commit=$2 service context digest
  mkdir -p "$WORK/builds-$commit"
  for service in stock-listing trade; do
    context=$WORK/context-$service
    rm -rf "$context" && mkdir -p "$context/bin"
    cp "services/$service/Dockerfile" "$context/" && cp "$BIN/$service" "$context/bin/"
    docker build --quiet --tag "stockops-bench/$service:v1" "$context" >/dev/null 2>&1
    if [[ $variant == v2 ]]; then
      printf 'FROM stockops-bench/%s:v1\nLABEL org.stockops.bench.version=2\n' "$service" >"$context/Dockerfile"
      docker build --quiet --tag "stockops-bench/$service:v2" "$context" >/dev/null 2>&1
    fi
    docker tag "stockops-bench/$service:$variant" "$REGISTRY/stockapp/$service:git-$commit"
    digest=$(docker push "$REGISTRY/stockapp/$service:git-$commit" | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')
    printf '{"service":"%s","repository":"%s/stockapp/%s","tag":"git-%s","digest":"%s","reused":false}\n' \
      "$service" "$REGISTRY" "$service" "$commit" "$digest" >"$WORK/builds-$commit/$service.json"
  done
}
push v1 aaaaaaa
push v2 ccccccc

# run ENV: the environment's variables (its own project and free ports), then the command.
declare -A ports
for env in $BENCH_ENVIRONMENTS; do ports[$env]="$(free_port) $(free_port) $(free_port)"; done
run_in() {
  local env=$1; shift
  read -r listing trade db <<<"${ports[$env]}"
  env STOCKOPS_STATE_DIR="$WORK/state" STOCKOPS_COMPOSE_PROJECT="bench-$env" STOCKOPS_COMPOSE=standalone \
    STOCK_LISTING_PORT="$listing" TRADE_PORT="$trade" DB_PORT="$db" \
    POSTGRES_IMAGE=stockops-local/postgres:15 VAULT_AGENT_IMAGE=stockops-local/openbao:2 PROXY_IMAGE=stockops-local/haproxy:2.6 \
    VAULT_AGENT_ADDR="http://host.docker.internal:$VAULT_PORT" VAULT_APPROLE_DIR="$WORK/approle" "$@"
}
# release ENV COMMIT [REF]: promote + deploy of the images of COMMIT; prints the seconds it took.
release() {
  local env=$1 commit=$2 ref=${3:-}
  if ! run_in "$env" env GITHUB_REF="$ref" "$STOCKOPS_BENCH" deploy --root "$WORK/root" --env "$env" \
    --builds "$WORK/builds-$commit" --force-unverified >"$WORK/release.out" 2>"$WORK/release.log"; then
    cat "$WORK/release.out" "$WORK/release.log" >&2
    return 1
  fi
  awk '{print $5}' "$WORK/release.out"
}

