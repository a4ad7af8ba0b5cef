#!/usr/bin/env bash
# Runs a GISBI cluster on this machine: a throwaway etcd, a throwaway
# PostgreSQL (unless GISBI_STORE names one) and NODES nodes (3) in dev
# mode, each under a restart loop standing in for a supervisor (systemd,
# Kubernetes). Node i serves HTTP on 127.0.0.1:$((BASE_PORT+i-1)) (8081…)
# and its cluster endpoint on 127.0.0.1:$((BASE_PORT+100+i-1)). Logs and
# data go to a temp dir printed at start. Ctrl-C stops everything.
#
#   scripts/cluster.sh                 # three nodes
#   NODES=5 BASE_PORT=9001 scripts/cluster.sh
#
# Any other GISBI_* setting in the environment reaches every node.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

nodes=${NODES:-3}
base=${BASE_PORT:-8081}
work=$(mktemp -d /tmp/gisbi-cluster.XXXXXX)
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_services
  echo "logs kept in $work"
}
trap cleanup EXIT INT TERM

go build -o "$work/gisbi" ./cmd/gisbi
start_etcd "$work"
if [ -z "${GISBI_STORE:-}" ]; then
  start_pg "$work"
  export GISBI_STORE="$PG_URL"
fi
"$work/gisbi" migrate >/dev/null

export GISBI_CLUSTER_PROVIDER=etcd GISBI_ETCD_ENDPOINTS="$ETCD_ENDPOINT"
export GISBI_JWT_KEY_FILE="$work/jwt.key" # every node signs with the same key
for i in $(seq "$nodes"); do
  http=$((base + i - 1)) remote=$((base + 100 + i - 1))
  mkdir -p "$work/node$i"
  (
    # The supervisor: a node that exits (killed, or lost its membership)
    # is started again a second later.
    while true; do
      GISBI_ADDR="127.0.0.1:$http" GISBI_CLUSTER_BIND="127.0.0.1:$remote" GISBI_DATA_DIR="$work/node$i" \
        "$work/gisbi" serve --dev >>"$work/node$i/server.log" 2>&1 || true
      echo "$(date +%T) node$i exited; restarting" >>"$work/node$i/server.log"
      sleep 1
    done
  ) &
  pids+=($!)
  echo "node$i: http://127.0.0.1:$http (cluster 127.0.0.1:$remote), log $work/node$i/server.log"
  # The first node creates the shared signing key before the others read it.
  if [ "$i" -eq 1 ]; then
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  fi
done
echo "running; Ctrl-C stops the cluster"
wait
