#!/usr/bin/env bash
# Build (once, cached by version) or find the real istiod (`pilot-discovery`) from the Go module
# proxy, for the fidelity comparison only (never a test or CI dependency). Prints the binary's path.
#   bench/fidelity/istiod-build.sh            build if missing, print path
#   ISTIOD_BIN=/path/pilot-discovery ...      use that binary instead
# Cold build: ~330 s and ~2.2 GB peak on 2 cores; the Go build cache is shared with Kubernetes'.
set -euo pipefail
ISTIO_MODULE_VERSION=${ISTIO_MODULE_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}
if [ -n "${ISTIOD_BIN:-}" ]; then [ -x "$ISTIOD_BIN" ] || { echo "ISTIOD_BIN=$ISTIOD_BIN is not executable" >&2; exit 1; }; echo "$ISTIOD_BIN"; exit 0; fi
if mkdir -p /var/cache/mizzen 2>/dev/null && [ -w /var/cache/mizzen ]; then root=/var/cache/mizzen; else root="${XDG_CACHE_HOME:-$HOME/.cache}/mizzen"; fi
dir="$root/istiod-$ISTIO_MODULE_VERSION"
bin="$dir/pilot-discovery"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { echo "go is needed to build istiod" >&2; exit 1; }
mkdir -p "$dir.partial"
echo "istiod-build: go install istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_MODULE_VERSION (cold: ~6 minutes)" >&2
start=$SECONDS
GOBIN="$dir.partial" GOFLAGS=-buildvcs=false go install "istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_MODULE_VERSION" >&2
rm -rf "$dir"; mv "$dir.partial" "$dir"
echo "istiod-build: built in $((SECONDS - start)) s: $bin" >&2
echo "$bin"
