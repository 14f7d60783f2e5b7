#!/usr/bin/env bash
# Debian packages for the Prometheus addon and dashboard tests (issue 19): `prometheus` (the
# server `mizzen up --addons prometheus` runs, and promtool) and `chromium` (the headless browser
# the dashboard test drives through playwright-core). Installed only when missing (dpkg's own
# record is the cache): nothing to do on a machine that has them. Root is needed to install;
# without it the tests skip with a message naming the package.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(prometheus chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages (${missing[*]}) and not root to install them: their tests will skip" >&2
  exit 0
fi
# Debian's prometheus package would start its own server on :9090 where an init system runs;
# policy-rc.d answering 101 keeps the install from starting services (the addon runs its own
# Prometheus inside the mesh's node namespace). An existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  made_policy=1
fi
trap 'if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
