#!/usr/bin/env bash
# Builds the services' binaries with the Swift runtime linked in (--static-swift-stdlib), as their
# Dockerfiles expect them, and copies them to OUT/<service>.
# Usage: scripts/build-service-binaries.sh OUT [debug|release]      (default debug)
# This toolchain's autolink entries miss Foundation's internal archives when linking statically,
# so they are named explicitly (in one group, as they refer to each other).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build-service-binaries.sh OUT [debug|release]}
configuration=${2:-debug}
case "$configuration" in debug|release) ;; *) echo "configuration must be debug or release, got $configuration" >&2; exit 2 ;; esac

link=(-Xlinker --start-group)
for library in Foundation CoreFoundation FoundationEssentials FoundationInternationalization _FoundationICU \
  _FoundationCShims _FoundationCollections swiftSynchronization dispatch BlocksRuntime; do
  link+=(-Xlinker "-l$library")
done
link+=(-Xlinker --end-group -Xlinker -lstdc++)

mkdir -p "$out"
bin=$(swift build -c "$configuration" --show-bin-path)
for product in stock-listing trade; do
  swift build -c "$configuration" --product "$product" --static-swift-stdlib "${link[@]}" >/dev/null
  cp "$bin/$product" "$out/$product"
  echo "built $out/$product"
done
