#!/usr/bin/env bash
# Istio's real ztunnel (Rust), built from a checkout of its source that the caller provides, for the
# interop test (test/ambient/ztunnel-istio-interop.test.ts) and a side-by-side bench. Nothing of
# ztunnel's source lives in this repository: give the directory of an istio/ztunnel checkout.
#
#   scripts/ztunnel.sh SRC_DIR [REV]
#
# REV names the cache entry (default: `git -C SRC_DIR rev-parse --short=8 HEAD`, else the
# directory's basename). Builds with cargo's `quick-release` profile (ztunnel's own: release
# optimisation without LTO, so it builds in minutes instead of tens of minutes on 2 cores) and
# caches the binary as /var/cache/mizzen/ztunnel-REV/ztunnel; `/var/cache/mizzen/ztunnel` is a
# symlink to the last one built, which is where the test looks. Crates come from crates.io;
# protoc from Debian's protobuf-compiler (installed when missing).
set -euo pipefail
src=${1:?usage: scripts/ztunnel.sh SRC_DIR [REV]}
CACHE=${MIZZEN_CACHE:-/var/cache/mizzen}
rev=${2:-$(git -C "$src" rev-parse --short=8 HEAD 2>/dev/null || basename "$src")}
dir="$CACHE/ztunnel-$rev"
if [ ! -x "$dir/ztunnel" ]; then
  command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
  command -v cargo >/dev/null || { echo "scripts/ztunnel.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }
  mkdir -p "$CACHE"
  target="$CACHE/ztunnel-target"
  # The FIPS feature `tls-boring` pulls a crate from a git repository, which only crates.io-reachable
  # machines cannot fetch, and cargo resolves optional dependencies too: build from a copy whose
  # manifest drops that feature (the default `tls-aws-lc` is what Istio ships). Every other
  # version stays as ztunnel's Cargo.lock pins it.
  work="$CACHE/ztunnel-src-$rev"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$src" && tar --exclude=./vendor --exclude=./target --exclude=./.git -cf - .) | tar -xf - -C "$work"
  sed -i -e '/^tls-boring = /d' -e '/^boring-rustls-provider = /d' -e '/^boring = /d' -e '/^boring-sys = /d' "$work/Cargo.toml"
  rm -f "$work/.cargo/config.toml"
  (cd "$work" && CARGO_TARGET_DIR="$target" nice -n 10 cargo build --profile quick-release --bin ztunnel)
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  cp "$target/quick-release/ztunnel" "$dir.tmp/ztunnel"
  echo "$rev" > "$dir.tmp/REVISION"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
ln -sfn "ztunnel-$rev" "$CACHE/ztunnel"
chmod a+rx "$CACHE" "$dir" "$dir/ztunnel"
