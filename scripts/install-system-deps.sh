#!/usr/bin/env bash
# Install the servers the end-to-end tests run against: Prometheus (+ promtool), Alertmanager,
# PostgreSQL 15 and Chromium; and the C++ toolchain that builds the local model server
# (llama-cpp-python, scripts/install-llm.sh). Debian 12. Idempotent: installs only what is missing, never starts
# the Debian services (the tests start their own, on loopback, in temp dirs).
#
#   scripts/install-system-deps.sh           install what is missing (needs root)
#   scripts/install-system-deps.sh --check   list what is missing; exit 1 if anything is
set -euo pipefail

# package -> a file or command that proves it is installed
declare -A PROVIDES=(
  [prometheus]=promtool
  [prometheus-alertmanager]=prometheus-alertmanager
  [postgresql-15]=/usr/lib/postgresql/15/bin/initdb
  [chromium]=chromium
  [g++]=g++
  [cmake]=cmake
)

installed() {
  local pkg=$1 probe=${PROVIDES[$1]}
  dpkg -s "$pkg" >/dev/null 2>&1 || return 1
  if [[ $probe == /* ]]; then [[ -x $probe ]]; else command -v "$probe" >/dev/null 2>&1; fi
}

missing=()
for pkg in prometheus prometheus-alertmanager postgresql-15 chromium g++ cmake; do
  installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "system deps: prometheus, prometheus-alertmanager, postgresql-15, chromium, g++, cmake are installed"
  exit 0
fi
if [[ ${1:-} == --check ]]; then
  echo "system deps missing: ${missing[*]}" >&2
  exit 1
fi
if ((EUID != 0)); then
  echo "system deps missing: ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: install ${missing[*]} with your system's package manager" >&2
  exit 1
fi

# Keep Debian from starting (or creating a cluster for) the services while installing.
policy=/usr/sbin/policy-rc.d
cleanup=()
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  cleanup+=("$policy")
fi
createcluster=/etc/postgresql-common/createcluster.conf
if [[ ! -e $createcluster ]]; then
  mkdir -p "$(dirname "$createcluster")"
  echo "create_main_cluster = false" >"$createcluster"
fi
trap 'rm -f "${cleanup[@]}"' EXIT

export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
echo "installing: ${missing[*]}"
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

for pkg in "${missing[@]}"; do
  installed "$pkg" || { echo "installed $pkg but ${PROVIDES[$pkg]} is still missing" >&2; exit 1; }
done
echo "system deps: installed ${missing[*]}"
