#!/usr/bin/env bash
# fortio (Istio's load generator, used by its circuit breaking task and by samples/httpbin's
# sample client) for the tests and `mizzen up`: built from the Go module proxy with
# `go install fortio.org/fortio@vVERSION`, cached under /var/cache/mizzen/fortio-VERSION/
# (readable by pod processes; src/runtime/sample-images.ts looks there). Prints nothing on success.
set -euo pipefail
CACHE=${MIZZEN_CACHE:-/var/cache/mizzen}
VERSION=1.63.0
dir="$CACHE/fortio-$VERSION"
if [ ! -x "$dir/fortio" ]; then
  mkdir -p "$CACHE"
  rm -rf "$dir.tmp"
  GOBIN="$dir.tmp" GOFLAGS=-mod=mod go install "fortio.org/fortio@v$VERSION"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
fi
chmod a+rx "$CACHE" "$dir" "$dir/fortio"
