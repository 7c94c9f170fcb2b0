# shellcheck shell=bash
# Sourced by the benchmark scripts: a throwaway OCI registry (docker-registry) on loopback.
#   registry_start DIR   starts one with its data under DIR on a free port, waits until /v2/ answers, and sets
#                        registry_pid and registry_port (stop it with: kill "$registry_pid")
registry_start() {
  local dir="$1"
  mkdir -p "$dir"
  registry_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  cat >"$dir/registry.yml" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$registry_port}
YAML
  docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  registry_pid=$!
  until curl -fsS "http://127.0.0.1:$registry_port/v2/" >/dev/null 2>&1; do
    kill -0 "$registry_pid" 2>/dev/null || { echo "docker-registry did not start: $(cat "$dir/registry.log")" >&2; return 3; }
    sleep 0.2
  done
}
