#!/usr/bin/env bash
# Real tracing backends for the tests, cached under /var/cache/mizzen (readable by pod processes):
#  - Zipkin's own server, the io.zipkin:zipkin-server exec jar from Maven Central (mvn);
#  - an OpenTelemetry Collector (OTLP gRPC/HTTP receiver, debug exporter) built from its Go
#    modules: test/otelcol is a small main that wires those modules.
# Prints nothing on success; the tests skip with a message when a backend is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${MIZZEN_CACHE:-/var/cache/mizzen}
ZIPKIN_VERSION=3.5.1
OTELCOL_VERSION=0.165.0
mkdir -p "$CACHE"
jar="$CACHE/zipkin-server-$ZIPKIN_VERSION-exec.jar"
if [ ! -s "$jar" ]; then
  mvn -q dependency:get -Dartifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" -Dtransitive=false
  cp "$HOME/.m2/repository/io/zipkin/zipkin-server/$ZIPKIN_VERSION/zipkin-server-$ZIPKIN_VERSION-exec.jar" "$jar.tmp"
  mv "$jar.tmp" "$jar"
fi
bin="$CACHE/otelcol-$OTELCOL_VERSION/otelcol"
if [ ! -x "$bin" ] || [ test/otelcol/go.sum -nt "$bin" ] || [ test/otelcol/main.go -nt "$bin" ]; then
  mkdir -p "$(dirname "$bin")"
  (cd test/otelcol && go build -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
chmod a+r "$jar"
chmod a+rx "$CACHE" "$(dirname "$bin")" "$bin"
