#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for tests, benchmarks and `mizzen up --kube`.
#
#   scripts/kube-cluster.sh build            build etcd, kube-apiserver, kube-controller-manager,
#                                            kube-scheduler and kubectl from the Go module proxy
#                                            into a cache keyed by versions (skipped when present)
#   scripts/kube-cluster.sh bin-dir          print the cache's bin directory (exit 1 if not built)
#   scripts/kube-cluster.sh start DIR [--port-base N] [--no-controllers] [--cluster-cidr CIDR]
#                                            certificates, etcd, kube-apiserver, controller-manager
#                                            and scheduler on 127.0.0.1; writes DIR/kubeconfig;
#                                            returns once the API server is ready; components
#                                            of DIR that still run are kept (start again after
#                                            killing one restarts just that one)
#   scripts/kube-cluster.sh stop DIR         stop what `start DIR` started (DIR is kept)
#
# Ports from --port-base N (default 26000): etcd client N, etcd peer N+1, kube-apiserver N+2,
# controller-manager N+3, scheduler N+4. Pod CIDRs of nodes come from --cluster-cidr (default
# 10.244.0.0/16, one /24 per node): clusters whose nodes run at the same time on one machine
# need distinct ones (their pod CIDRs are routed from the root namespace). Environment:
# MIZZEN_KUBE_CACHE (default /var/cache/mizzen, or ~/.cache/mizzen when that is not writable).
set -euo pipefail

K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.8
STAGING_VERSION=v0.${K8S_VERSION#v1.}

cache_root() {
  if [ -n "${MIZZEN_KUBE_CACHE:-}" ]; then echo "$MIZZEN_KUBE_CACHE"; return; fi
  if mkdir -p /var/cache/mizzen 2>/dev/null && [ -w /var/cache/mizzen ]; then echo /var/cache/mizzen
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/mizzen"; fi
}
BIN_DIR="$(cache_root)/kube-${K8S_VERSION}-etcd-${ETCD_VERSION}/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

die() { echo "kube-cluster: $*" >&2; exit 1; }
built() { for b in "${BINARIES[@]}"; do [ -x "$BIN_DIR/$b" ] || return 1; done; }

# A go.mod that requires MODULE@VERSION and turns each of its relative-path replaces
# (`X => ../x`, `X => ./staging/src/X`) into `X => X REPLACE_VERSION`: Go refuses
# `go install` of a module with replace directives, a local module repeating them works.
write_module() { # dir module version replace_version imports...
  local dir=$1 module=$2 version=$3 rversion=$4; shift 4
  mkdir -p "$dir"
  local gomod
  gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$gomod" ] || die "cannot read go.mod of $module@$version from the Go module proxy"
  {
    echo "module mizzen.local/kubebuild"
    echo
    sed -n 's/^go \([0-9.]*\)$/go \1/p' "$gomod"
    echo
    echo "require $module $version"
    echo
    # single-line and block replaces whose target is a relative path (not the placeholders
    # that forbid a dependency)
    awk -v rv="$rversion" '
      /^replace \($/ { inblock = 1; next }
      inblock && /^\)$/ { inblock = 0; next }
      {
        line = $0; sub(/^replace[ \t]+/, "", line)
        if ((inblock || $1 == "replace") && line ~ /=>[ \t]+\.\.?\// && line !~ /FORBIDDEN/) {
          split(line, parts, /[ \t]*=>[ \t]*/); gsub(/^[ \t]+|[ \t]+$/, "", parts[1])
          print "replace " parts[1] " => " parts[1] " " rv
        }
      }' "$gomod"
  } > "$dir/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    for i in "$@"; do echo "	_ \"$i\""; done
    echo ")"
  } > "$dir/tools.go"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy >/dev/null) || die "go mod tidy failed in $dir"
}

cmd_build() {
  if built; then echo "$BIN_DIR"; return; fi
  command -v go >/dev/null || die "go is not installed (Go >= 1.25 is needed to build Kubernetes ${K8S_VERSION})"
  # A failed or interrupted build leaves no half-written cache: binaries are built into
  # BIN_DIR.partial (never used by `built`), each written under a temporary name and renamed
  # when complete (a finished etcd is kept for the next try), and BIN_DIR appears by one rename
  # once all are there. The work directory goes on any exit: a failed step (set -e, die) ends
  # the script without returning from this function, and INT/TERM end it through `exit`.
  work=$(mktemp -d /tmp/mizzen-kube-build.XXXXXX)
  trap 'rm -rf "$work" "$BIN_DIR.partial"/*.tmp "$BIN_DIR.partial"/*.tmp.d' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$BIN_DIR.partial"
  local start=$SECONDS
  if [ ! -x "$BIN_DIR.partial/etcd" ]; then
    echo "kube-cluster: building etcd ${ETCD_VERSION}" >&2
    write_module "$work/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION" go.etcd.io/etcd/server/v3
    (cd "$work/etcd" && go build -trimpath -ldflags '-s -w' -o "$BIN_DIR.partial/etcd.tmp" go.etcd.io/etcd/server/v3)
    mv "$BIN_DIR.partial/etcd.tmp" "$BIN_DIR.partial/etcd"
  fi
  local k=k8s.io/kubernetes/cmd
  echo "kube-cluster: building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl ${K8S_VERSION} (cold: ~10 minutes on 2 cores)" >&2
  write_module "$work/k8s" k8s.io/kubernetes "$K8S_VERSION" "$STAGING_VERSION" \
    $k/kube-apiserver $k/kube-controller-manager $k/kube-scheduler $k/kubectl
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=${minor} -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  rm -rf "$BIN_DIR.partial/k8s.tmp.d"; mkdir "$BIN_DIR.partial/k8s.tmp.d"
  (cd "$work/k8s" && go build -trimpath -ldflags "$ld" -o "$BIN_DIR.partial/k8s.tmp.d/" \
    $k/kube-apiserver $k/kube-controller-manager $k/kube-scheduler $k/kubectl)
  mv "$BIN_DIR.partial/k8s.tmp.d"/* "$BIN_DIR.partial/"; rmdir "$BIN_DIR.partial/k8s.tmp.d"
  rm -rf "$BIN_DIR"; mv "$BIN_DIR.partial" "$BIN_DIR"
  echo "kube-cluster: built in $((SECONDS - start)) s into $BIN_DIR" >&2
  echo "$BIN_DIR"
}

cmd_bin_dir() { built || die "not built: run scripts/kube-cluster.sh build"; echo "$BIN_DIR"; }

# --- certificates -----------------------------------------------------------------------
cert() { # name subject [sans] ; signed by DIR/pki/ca
  local pki=$1 name=$2 subj=$3 sans=${4:-}
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
  local ext="$pki/$name.ext"
  { echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$sans" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$sans"
    else echo "extendedKeyUsage=clientAuth"; fi; } > "$ext"
  openssl req -new -key "$pki/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
      -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$ext"
}

make_pki() {
  local pki=$1
  [ -f "$pki/ca.crt" ] && return
  mkdir -p "$pki"; chmod 700 "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=mizzen-test-cluster-ca" -keyout "$pki/ca.key" -out "$pki/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  cert "$pki" apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert "$pki" admin "/O=system:masters/CN=kubernetes-admin"
  cert "$pki" controller-manager "/CN=system:kube-controller-manager"
  cert "$pki" scheduler "/CN=system:kube-scheduler"
  # the API server's client certificate towards kubelets (logs, exec): kubeadm's, in system:masters
  # so that a kubelet's SubjectAccessReview allows it without extra RBAC
  cert "$pki" apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

kubeconfig() { # file server user
  local file=$1 server=$2 user=$3 pki=$4
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mizzen
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 < "$pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 < "$pki/$user.crt")
    client-key-data: $(base64 -w0 < "$pki/$user.key")
contexts:
- name: mizzen
  context: {cluster: mizzen, user: $user}
current-context: mizzen
EOF
  chmod 600 "$file"
}

wait_for() { # description seconds command...
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

launch() { # dir name args... ; records the pid in DIR/NAME.pid, output in DIR/NAME.log
  local dir=$1 name=$2; shift 2
  setsid "$@" >"$dir/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/$name.pid"
}

alive() { # pid: a live process (a killed one stays a zombie until reaped: not alive)
  local state; state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

dead() { ! alive "$1"; }

running() { # dir name: is the component started from DIR alive?
  [ -f "$1/$2.pid" ] && alive "$(cat "$1/$2.pid")"
}

cmd_start() {
  local dir="" base=26000 controllers=1 cluster_cidr=10.244.0.0/16
  while [ $# -gt 0 ]; do
    case $1 in
      --port-base) base=$2; shift 2 ;;
      --cluster-cidr) cluster_cidr=$2; shift 2 ;;
      --no-controllers) controllers=0; shift ;;
      -*) die "unknown option $1" ;;
      *) dir=$1; shift ;;
    esac
  done
  [ -n "$dir" ] || die "usage: start DIR [--port-base N] [--no-controllers] [--cluster-cidr CIDR]"
  [[ $cluster_cidr =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -le 24 ] ||
    die "--cluster-cidr $cluster_cidr: an IPv4 CIDR of /24 or larger (one /24 per node)"
  built || die "binaries not built: run scripts/kube-cluster.sh build (cache: $BIN_DIR)"
  command -v openssl >/dev/null || die "openssl is needed for the cluster's certificates"
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if [ -f "$dir/port-base" ] && [ "$(cat "$dir/port-base")" != "$base" ] && running "$dir" etcd; then
    die "a cluster already runs from $dir on port base $(cat "$dir/port-base")"
  fi
  local pki="$dir/pki" etcd_port=$base peer_port=$((base + 1)) api_port=$((base + 2))
  make_pki "$pki"
  local server="https://127.0.0.1:$api_port"
  kubeconfig "$dir/kubeconfig" "$server" admin "$pki"
  kubeconfig "$dir/controller-manager.kubeconfig" "$server" controller-manager "$pki"
  kubeconfig "$dir/scheduler.kubeconfig" "$server" scheduler "$pki"
  echo "$base" > "$dir/port-base"
  echo "$cluster_cidr" > "$dir/cluster-cidr"

  running "$dir" etcd || launch "$dir" etcd "$BIN_DIR/etcd" --name mizzen --data-dir "$dir/etcd-data" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "mizzen=http://127.0.0.1:$peer_port" --listen-metrics-urls "" --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health" ||
    { cmd_stop "$dir"; die "etcd did not become healthy on 127.0.0.1:$etcd_port (log: $dir/etcd.log)"; }

  local extra=()
  if [ $controllers = 0 ]; then
    extra+=(--endpoint-reconciler-type=none --disable-admission-plugins=ServiceAccount)
  fi
  running "$dir" kube-apiserver || launch "$dir" kube-apiserver "$BIN_DIR/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$api_port" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local,istio-ca \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" --kubelet-certificate-authority "$pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP --enable-aggregator-routing=true --profiling=false "${extra[@]}"
  wait_for kube-apiserver 120 curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$server/readyz" ||
    { cmd_stop "$dir"; die "kube-apiserver did not become ready at $server (log: $dir/kube-apiserver.log)"; }

  if [ $controllers = 1 ]; then
    running "$dir" kube-controller-manager || launch "$dir" kube-controller-manager "$BIN_DIR/kube-controller-manager" \
      --kubeconfig "$dir/controller-manager.kubeconfig" --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
      --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port $((base + 3)) --leader-elect=false \
      --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" \
      --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
      --allocate-node-cidrs --cluster-cidr "$cluster_cidr" --node-cidr-mask-size 24 \
      --service-cluster-ip-range 10.96.0.0/16 --controllers '*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
      --profiling=false
    running "$dir" kube-scheduler || launch "$dir" kube-scheduler "$BIN_DIR/kube-scheduler" \
      --kubeconfig "$dir/scheduler.kubeconfig" --authentication-kubeconfig "$dir/scheduler.kubeconfig" \
      --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port $((base + 4)) --leader-elect=false --profiling=false
  fi
  echo "$dir/kubeconfig"
}

cmd_stop() {
  local dir=${1:-}; [ -n "$dir" ] || die "usage: stop DIR"
  local name pid
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    if alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      wait_for "$name exit" 10 dead "$pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$name.pid"
  done
}

case ${1:-} in
  build) cmd_build ;;
  bin-dir) cmd_bin_dir ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
