#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine, idempotently:
# system packages (only the missing ones), a virtualenv with the project and its dev
# extras (re-installed only when pyproject.toml changes), and the Kafka broker jars.
# `make demo`, `make test` and `.ci/run` all start here, so CI exercises every step.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# The steps that wait on the network run side by side: the Debian packages, helm's build
# and the virtualenv's install need nothing of each other. The Kafka jars need Maven (a
# Debian package) and the venv's CLI, so they come after both. Each step logs to its own
# file; a failed step prints its log and fails the bootstrap.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
names=()
step() {  # step NAME COMMAND...: run in the background, remembered for finish
  local name=$1; shift
  ( "$@" ) >"$logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}
finish() {  # wait for every step; print the log of each one that failed
  local failed=0 i
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      log "step ${names[$i]} failed:"
      cat "$logs/${names[$i]}.log" >&2
      failed=1
    else
      cat "$logs/${names[$i]}.log" >&2
    fi
  done
  pids=()
  names=()
  return $failed
}

# command -> Debian package that provides it
declare -A PACKAGES=(
  [redis-server]=redis-server
  [java]=openjdk-17-jre-headless
  [mvn]=maven
  [docker-compose]=docker-compose
  [promtool]=prometheus
  [chromium]=chromium  # the page tests drive Debian's chromium through Playwright (tests/browser.py)
)
missing=()
for cmd in "${!PACKAGES[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGES[$cmd]}")
done
debian_packages() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # Debian starts a system redis-server on 6379 after install; the project runs its own.
  if command -v service >/dev/null 2>&1; then $sudo service redis-server stop >/dev/null 2>&1 || true; fi
  pkill -x redis-server 2>/dev/null || true
}
if ((${#missing[@]})); then step apt debian_packages; fi

# helm, for the chart test (tests/integration/test_helm_chart.py): built from source with the
# machine's Go toolchain, never a downloaded binary. It lands in $(go env GOPATH)/bin.
HELM_VERSION=v3.19.0
if ! command -v helm >/dev/null 2>&1 && [ ! -x "$(go env GOPATH 2>/dev/null)/bin/helm" ]; then
  command -v go >/dev/null 2>&1 || { log "helm needs Go to build (go install); install Go first"; exit 1; }
  log "building helm $HELM_VERSION with go install (takes a few minutes the first time)"
  step helm go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

PYTHON=${PYTHON:-python3}
stamp_name=.installed-$(sha256sum pyproject.toml | cut -c1-16)
virtualenv() {
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
  fi
  log "installing the project and its dev extras into .venv (first run takes a few minutes)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  rm -f .venv/.installed-*
  touch ".venv/$stamp_name"
}
if [ ! -f ".venv/$stamp_name" ]; then step venv virtualenv; fi

finish

log "fetching the Kafka broker jars (cached after the first run)"
.venv/bin/python -m streams stack fetch
