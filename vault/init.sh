#!/usr/bin/env bash
# Brings a Vault or OpenBao server to the state stockops expects, with curl and jq only:
#   - initialises it (5 key shares, threshold 3) when it is not: the unseal keys go to
#     <out>/unseal-keys.json (hand one share to each key holder, then delete it); the root token is used for
#     this bootstrap only and revoked at its end;
#   - unseals the server it has just initialised; any other sealed server only from VAULT_UNSEAL_KEYS_FILE, when
#     given (a sandbox keeps its own keys; a real server is unsealed by its key holders, `bao operator unseal`);
#   - enables KV v2 at secret/ and AppRole at approle/;
#   - writes the policies in policies/*.hcl, and policies/app.hcl.template as app-<env> for each environment;
#   - creates the AppRoles: ci (1 h tokens; its secret id bounded: STOCKOPS_CI_SECRET_ID_TTL, default 168h,
#     STOCKOPS_CI_SECRET_ID_USES logins, default 500, and STOCKOPS_CI_BOUND_CIDRS, the runners' addresses, when
#     known), app-<env> for each of STOCKOPS_ENVIRONMENTS (default "dev stage prod", the names under environments:
#     in pipelines/stockops.yml; each reads secret/<env>/ only; 12 h tokens,
#     renewable up to 72 h) and admin (the operators' policy, for later runs of this script); writes their
#     role_id and secret_id to <out>/<role>/ and prints the role ids;
#   - seeds CHANGE_ME placeholders for every declared key that has no value yet.
# Running it again changes nothing that is already in place: existing values, role ids and valid
# secret ids are kept. A later run authenticates with VAULT_TOKEN, else the admin AppRole in <out>/admin/.
# Works against `bao server -dev` (already initialised and unsealed; pass its root token as VAULT_TOKEN).
#
# Usage: init.sh [output-dir]        (default: ./vault-out; .gitignore covers vault-out/ at any depth)
# Environment: VAULT_ADDR (default http://127.0.0.1:8200), VAULT_TOKEN, VAULT_NAMESPACE,
#              VAULT_CACERT (a PEM bundle to trust for https), VAULT_UNSEAL_KEYS_FILE, STOCKOPS_CI_SECRET_ID_TTL,
#              STOCKOPS_CI_SECRET_ID_USES, STOCKOPS_CI_BOUND_CIDRS (comma-separated), STOCKOPS_ENVIRONMENTS
#              (space-separated environment names).
# Every file written is readable by the current user only. Tokens and keys never appear in
# command lines: curl reads headers and bodies from files and stdin.
set -euo pipefail
umask 077

VAULT_ADDR=${VAULT_ADDR:-http://127.0.0.1:8200}
VAULT_ADDR=${VAULT_ADDR%/}
OUT=${1:-./vault-out}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'init.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in curl jq; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
read -r -a ENVIRONMENTS <<<"${STOCKOPS_ENVIRONMENTS:-dev stage prod}"
for environment in "${ENVIRONMENTS[@]}"; do
  [[ $environment =~ ^[a-z][a-z0-9-]{0,31}$ ]] ||
    die "STOCKOPS_ENVIRONMENTS: '$environment' is not an environment name (lowercase letters, digits and '-', starting with a letter)"
done
((${#ENVIRONMENTS[@]} > 0)) || die "STOCKOPS_ENVIRONMENTS is empty: name at least one environment (default: dev stage prod)"

mkdir -p "$OUT"
chmod 700 "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
: >"$WORK/headers"

STATUS=0
BODY=""

# api METHOD PATH [JSON] -- sets STATUS and BODY; the JSON goes through stdin.
api() {
  local method=$1 path=$2 json=${3-}
  local args=(--silent --show-error --request "$method" --output "$WORK/response" --write-out '%{http_code}'
    --header @"$WORK/headers" --header 'X-Vault-Request: true' --connect-timeout 5 --max-time 60)
  if [[ -n ${VAULT_CACERT-} ]]; then args+=(--cacert "$VAULT_CACERT"); fi
  if [[ -n $json ]]; then
    args+=(--header 'Content-Type: application/json' --data-binary @-)
  fi
  if ! STATUS=$(printf '%s' "$json" | curl "${args[@]}" "$VAULT_ADDR/v1/$path"); then
    die "Vault unreachable at $VAULT_ADDR"
  fi
  BODY=$(cat "$WORK/response")
}

# ok METHOD PATH [JSON] -- like api, but fails on a status other than 2xx.
ok() {
  api "$@"
  if [[ $STATUS != 2* ]]; then
    die "$1 $2 failed with $STATUS: $(jq -r '(.errors // []) | join("; ")' <<<"$BODY" 2>/dev/null || true)"
  fi
}

# --- Initialise and unseal -------------------------------------------------------------------
ROOT_TOKEN=""
INITIALISED=false
api GET sys/init
[[ $STATUS == 200 ]] || die "GET sys/init failed with $STATUS"
if [[ $(jq -r .initialized <<<"$BODY") != true ]]; then
  log "initialising with 5 key shares, threshold 3"
  ok PUT sys/init '{"secret_shares": 5, "secret_threshold": 3}'
  jq '{keys_base64, threshold: 3}' <<<"$BODY" >"$OUT/unseal-keys.json"
  chmod 600 "$OUT/unseal-keys.json"
  ROOT_TOKEN=$(jq -r .root_token <<<"$BODY")
  INITIALISED=true
  log "unseal keys saved to $OUT/unseal-keys.json: give one share to each key holder and delete the file; the root token is revoked at the end of this run"
elif [[ -f $OUT/init.json ]]; then
  # The layout of earlier versions: unseal keys and root token in one file. Split them; the root token is revoked.
  jq '{keys_base64, threshold: 3}' "$OUT/init.json" >"$OUT/unseal-keys.json"
  chmod 600 "$OUT/unseal-keys.json"
  ROOT_TOKEN=$(jq -r .root_token "$OUT/init.json")
  rm -f "$OUT/init.json"
  log "split $OUT/init.json: unseal keys in $OUT/unseal-keys.json; the root token it held is revoked at the end of this run"
fi

api GET sys/seal-status
if [[ $(jq -r .sealed <<<"$BODY") == true ]]; then
  # The keys this run has just made unseal the server it initialised; otherwise only VAULT_UNSEAL_KEYS_FILE does.
  keys=${VAULT_UNSEAL_KEYS_FILE:-}
  if [[ $INITIALISED == true ]]; then keys=$OUT/unseal-keys.json; fi
  [[ -n $keys ]] || die "Vault is sealed: its key holders unseal it (3 of the 5 shares, \`bao operator unseal\`); a sandbox passes VAULT_UNSEAL_KEYS_FILE"
  [[ -f $keys ]] || die "VAULT_UNSEAL_KEYS_FILE=$keys does not exist"
  log "unsealing with the keys in $keys"
  for index in 0 1 2; do
    jq -c --argjson i "$index" '{key: .keys_base64[$i]}' "$keys" >"$WORK/unseal.json"
    ok PUT sys/unseal "$(cat "$WORK/unseal.json")"
  done
  [[ $(jq -r .sealed <<<"$BODY") == false ]] || die "still sealed after three keys"
  # A raft node answers requests once it is the active node, a moment after the unseal (sys/health: 200).
  for _ in $(seq 1 300); do
    api GET sys/health
    [[ $STATUS == 200 ]] && break
    sleep 0.2
  done
  [[ $STATUS == 200 ]] || die "Vault did not become active within 60 s of the unseal (sys/health answered $STATUS)"
fi

# --- Authenticate ----------------------------------------------------------------------------
# VAULT_TOKEN, else the root token of this run's initialisation, else the admin AppRole of an earlier run.
if [[ -n ${VAULT_TOKEN-} ]]; then
  TOKEN=$VAULT_TOKEN
elif [[ -n $ROOT_TOKEN ]]; then
  TOKEN=$ROOT_TOKEN
elif [[ -s $OUT/admin/role_id && -s $OUT/admin/secret_id ]]; then
  jq -n --rawfile role "$OUT/admin/role_id" --rawfile secret "$OUT/admin/secret_id" '{role_id: $role, secret_id: $secret}' >"$WORK/login.json"
  : >"$WORK/headers"
  api POST auth/approle/login "$(cat "$WORK/login.json")"
  [[ $STATUS == 200 ]] || die "the admin AppRole in $OUT/admin cannot log in ($STATUS): pass an operator's token as VAULT_TOKEN"
  TOKEN=$(jq -r .auth.client_token <<<"$BODY")
else
  die "set VAULT_TOKEN to an operator's token (the root token is revoked after the first run; $OUT/admin holds no admin AppRole)"
fi
{
  printf 'X-Vault-Token: %s\n' "$TOKEN"
  if [[ -n ${VAULT_NAMESPACE-} ]]; then printf 'X-Vault-Namespace: %s\n' "$VAULT_NAMESPACE"; fi
} >"$WORK/headers"
ok GET auth/token/lookup-self

# --- Engines ---------------------------------------------------------------------------------
ok GET sys/mounts
mount=$(jq -c '(.data // .)["secret/"] // empty' <<<"$BODY")
if [[ -z $mount ]]; then
  log "enabling KV v2 at secret/"
  ok POST sys/mounts/secret '{"type": "kv", "options": {"version": "2"}, "description": "stockops secrets"}'
elif [[ $(jq -r '.options.version // "1"' <<<"$mount") != 2 ]]; then
  die "secret/ is mounted but is not KV version 2"
fi

ok GET sys/auth
if [[ -z $(jq -c '(.data // .)["approle/"] // empty' <<<"$BODY") ]]; then
  log "enabling AppRole at approle/"
  ok POST sys/auth/approle '{"type": "approle"}'
fi

# --- Policies --------------------------------------------------------------------------------
for file in "$HERE"/policies/*.hcl; do
  name=$(basename "$file" .hcl)
  ok PUT "sys/policies/acl/$name" "$(jq -n --rawfile policy "$file" '{policy: $policy}')"
  log "policy $name written"
done
for environment in "${ENVIRONMENTS[@]}"; do
  policy=$(sed "s/ENVIRONMENT/$environment/g" "$HERE/policies/app.hcl.template")
  ok PUT "sys/policies/acl/app-$environment" "$(jq -n --arg policy "$policy" '{policy: $policy}')"
  log "policy app-$environment written"
done

# --- AppRoles --------------------------------------------------------------------------------
# A pipeline run gets a 1 h token, from a secret id bounded in time and logins (and addresses, when the runners' are
# known); each environment's Vault Agent a 12 h token it renews, up to 72 h, that reads that environment only.
ci_role=$(jq -n --arg ttl "${STOCKOPS_CI_SECRET_ID_TTL:-168h}" --argjson uses "${STOCKOPS_CI_SECRET_ID_USES:-500}" --arg cidrs "${STOCKOPS_CI_BOUND_CIDRS:-}" \
  '{token_policies: ["ci"], token_ttl: "1h", token_max_ttl: "1h", secret_id_ttl: $ttl, secret_id_num_uses: $uses}
   + (if $cidrs == "" then {} else {secret_id_bound_cidrs: ($cidrs | split(",")), token_bound_cidrs: ($cidrs | split(","))} end)')
ok POST auth/approle/role/ci "$ci_role"
roles=(ci)
for environment in "${ENVIRONMENTS[@]}"; do
  ok POST "auth/approle/role/app-$environment" \
    "$(jq -n --arg policy "app-$environment" '{token_policies: [$policy], token_ttl: "12h", token_max_ttl: "72h", secret_id_ttl: "720h"}')"
  roles+=("app-$environment")
done
ok POST auth/approle/role/admin '{"token_policies": ["admin"], "token_ttl": "1h", "token_max_ttl": "1h"}'
roles+=(admin)

for role in "${roles[@]}"; do
  mkdir -p "$OUT/$role"
  ok GET "auth/approle/role/$role/role-id"
  jq -j .data.role_id <<<"$BODY" >"$OUT/$role/role_id"
  chmod 600 "$OUT/$role/role_id"
  printf '%s role_id %s\n' "$role" "$(jq -r .data.role_id <<<"$BODY")"

  valid=false
  if [[ -s $OUT/$role/secret_id ]]; then
    api POST "auth/approle/role/$role/secret-id/lookup" "$(jq -n --rawfile id "$OUT/$role/secret_id" '{secret_id: $id}')"
    if [[ $STATUS == 200 && $(jq -r '.data != null' <<<"$BODY") == true ]]; then valid=true; fi
  fi
  if [[ $valid != true ]]; then
    ok POST "auth/approle/role/$role/secret-id" '{}'
    jq -j .data.secret_id <<<"$BODY" >"$OUT/$role/secret_id"
    chmod 600 "$OUT/$role/secret_id"
    log "AppRole $role: new secret id written to $OUT/$role/secret_id"
  else
    log "AppRole $role: existing secret id kept"
  fi
done

# --- Placeholder secrets ---------------------------------------------------------------------
# seed PATH JQ-OBJECT -- gives every key of the object its placeholder value unless the key already
# has one: creates PATH (check-and-set 0) or adds the missing keys to it (check-and-set on its version).
seed() {
  local path=$1 object=$2
  api GET "secret/data/$path"
  if [[ $STATUS == 404 ]]; then
    jq -n "{data: ($object), options: {cas: 0}}" >"$WORK/seed.json"
  elif [[ $STATUS == 200 ]]; then
    if [[ $(jq -r --argjson wanted "$(jq -n "$object")" '($wanted | keys) - (.data.data // {} | keys) | length' <<<"$BODY") == 0 ]]; then
      return
    fi
    jq --argjson wanted "$(jq -n "$object")" \
      '{data: ($wanted + (.data.data // {})), options: {cas: .data.metadata.version}}' <<<"$BODY" >"$WORK/seed.json"
  else
    die "GET secret/data/$path failed with $STATUS"
  fi
  ok POST "secret/data/$path" "$(cat "$WORK/seed.json")"
  log "seeded secret/$path with CHANGE_ME placeholders"
}

# Each environment's own settings: secret/<env>/db and secret/<env>/app, readable by that environment's role only.
for environment in "${ENVIRONMENTS[@]}"; do
  seed "$environment/db/stockops" '{username: "stockops", password: "CHANGE_ME",
    url: "postgres://stockops:CHANGE_ME@postgres:5432/stockops?sslmode=require"}'
  seed "$environment/app/stockops" '{session_key: "CHANGE_ME"}'
done
# The paths and keys pipelines/stockops.yml declares under vault:.
seed ci/pipeline '{SIGNING_KEY: "CHANGE_ME", SIGNING_KEY_PASSWORD: "CHANGE_ME", SIGNING_PUBLIC_KEY: "CHANGE_ME", SLACK_WEBHOOK_URL: "CHANGE_ME"}'
seed harbor/robot '{HARBOR_USERNAME: "CHANGE_ME", HARBOR_PASSWORD: "CHANGE_ME"}'
seed sonarqube/token '{SONAR_TOKEN: "CHANGE_ME"}'

# --- The root token ends with the bootstrap ------------------------------------------------------
if [[ -n $ROOT_TOKEN ]]; then
  {
    printf 'X-Vault-Token: %s\n' "$ROOT_TOKEN"
    if [[ -n ${VAULT_NAMESPACE-} ]]; then printf 'X-Vault-Namespace: %s\n' "$VAULT_NAMESPACE"; fi
  } >"$WORK/headers"
  ok POST auth/token/revoke-self
  log "root token revoked; later runs log in with the admin AppRole in $OUT/admin (or VAULT_TOKEN)"
fi
apps=""
for environment in "${ENVIRONMENTS[@]}"; do apps+="$OUT/app-$environment, "; done
log "done: role ids and secret ids are in $OUT/ci, ${apps}and $OUT/admin"
