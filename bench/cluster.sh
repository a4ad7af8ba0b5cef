#!/usr/bin/env bash
# bench/cluster.sh: the cost of going distributed, and failover time.
#
# Runs the load generator's mixed scenario (users walking, BLE pairs
# heartbeating, chat) against (1) one node and (2) three nodes on this
# machine, both on the same throwaway PostgreSQL, and sums the nodes' CPU
# from /proc for the same offered load. With KILL=1 a third run kills one
# of the three nodes with SIGKILL halfway through and reports how long its
# users took to be served again (the generator's reconnect latency).
#
# Environment:
#   USERS=4000 PAIRS=1000 CHAT=100 DURATION=60s   the mixed load
#   RUNS="one three kill"                          which runs
#   WORK                                           temp dir for logs and results (kept)
# Needs Go, jq, curl, etcd and PostgreSQL (installed from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

USERS=${USERS:-4000} PAIRS=${PAIRS:-1000} CHAT=${CHAT:-100} DURATION=${DURATION:-60s}
# The kill run's load (KILL_USERS:KILL_PAIRS), smaller by default: on two
# cores, three nodes, PostgreSQL, etcd and the generator at 4,000 users
# leave no headroom for 1,333 phones reconnecting at once.
KILL_USERS=${KILL_USERS:-$USERS} KILL_PAIRS=${KILL_PAIRS:-$PAIRS}
RUNS=${RUNS:-one three kill}
WORK=${WORK:-$(mktemp -d -t gisbi-cluster-bench-XXXXXX)}
mkdir -p "$WORK/bin" "$WORK/results"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  stop_services
}
trap cleanup EXIT INT TERM

go build -o "$WORK/bin/gisbi" ./cmd/gisbi
go build -o "$WORK/bin/gisbi-load" ./cmd/gisbi-load
start_etcd "$WORK"
start_pg "$WORK"

# cpu_ticks PID...: user+system clock ticks the processes used so far.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}

# nodes N RUN: starts N nodes on a fresh schema, sets URLS and NODE_PIDS.
nodes() {
  local n=$1 run=$2 i schema url
  schema="bench_${run}_$RANDOM"
  psql "$PG_URL" -qc "CREATE SCHEMA $schema" >/dev/null
  url="$PG_URL&search_path=$schema"
  URLS="" NODE_PIDS=()
  for i in $(seq "$n"); do
    mkdir -p "$WORK/$run/node$i"
    local http=$((18800 + i)) remote=$((18900 + i))
    env GISBI_STORE="$url" GISBI_JWT_KEY_FILE="$WORK/$run/jwt.key" GISBI_DATA_DIR="$WORK/$run/node$i" \
      GISBI_ADDR="127.0.0.1:$http" GISBI_CLUSTER_BIND="127.0.0.1:$remote" \
      GISBI_CLUSTER_PROVIDER="$([ "$n" -gt 1 ] && echo etcd || echo local)" GISBI_ETCD_ENDPOINTS="$ETCD_ENDPOINT" \
      GISBI_CLUSTER_NAME="$run" GISBI_HTTP_RATE=100000 GISBI_HTTP_BURST=100000 \
      "$WORK/bin/gisbi" serve --dev >"$WORK/$run/node$i/server.log" 2>&1 &
    NODE_PIDS+=($!) pids+=($!)
    URLS="$URLS${URLS:+,}http://127.0.0.1:$http"
    for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
  sleep 3 # membership settles
}

load() {
  local run=$1; shift
  local pidlist; pidlist=$(IFS=,; echo "${NODE_PIDS[*]}")
  "$WORK/bin/gisbi-load" --server "$URLS" --users "$USERS" --pairs "$PAIRS" --chat-rate "$CHAT" \
    --duration "$DURATION" --server-pid "$pidlist" --json "$@" >"$WORK/results/$run.json" 2>"$WORK/results/$run.log" || true
}

report() {
  local run=$1 ticks=$2 secs=$3
  local hz; hz=$(getconf CLK_TCK)
  jq -r --arg run "$run" --arg cpu "$(echo "scale=2; $ticks / $hz / $secs" | bc)" '
    "\($run): server CPU \($cpu) cores over the whole run, \(if .server then (.server.cpuSecondsSteady / .steadySeconds * 100 | round / 100 | tostring) else "?" end) cores in the traffic phase; pass \(.pass)",
    (.ops[] | select(.latencyMs) | "  \(.type): \(.sentPerSec | floor)/s p50 \(.latencyMs.p50) p99 \(.latencyMs.p99) ms"),
    (if .sessions.reconnectLatencyMs then "  reconnect (drop → session): \(.sessions.reconnectLatencyMs | tostring)" else empty end),
    (.nodes[] | "  \(.url): home \(.home), connected at end \(.connectedAtEnd), dropped \(.dropped), reconnects \(.reconnects)")
  ' "$WORK/results/$run.json" | tee -a "$WORK/results/summary.txt"
}

for run in $RUNS; do
  case $run in
    one) nodes 1 one ;;
    three | kill) nodes 3 "$run" ;;
  esac
  start=$(date +%s.%N) t0=$(cpu_ticks "${NODE_PIDS[@]}")
  if [ "$run" = kill ]; then
    # Halfway through the traffic phase (the generator's progress lines
    # name the phase).
    (until grep -q ' run ' "$WORK/results/$run.log" 2>/dev/null; do sleep 0.2; done
     sleep "$(( ${DURATION%s} / 2 ))"; kill -9 "${NODE_PIDS[2]}"; killed=$(date +%s.%N)
     # Detection: the first survivor whose member count drops to 2.
     until curl -fsS http://127.0.0.1:18801/metrics 2>/dev/null | grep -q '^gisbi_cluster_members 2$'; do sleep 0.05; done
     echo "n3 killed; the survivors saw it leave $(echo "$(date +%s.%N) - $killed" | bc | cut -c1-5) s later" >"$WORK/results/detection.txt") &
    USERS=$KILL_USERS PAIRS=$KILL_PAIRS load "$run" --allow-errors transport,disconnected,unavailable,timeout --max-fail 0.5
    # The killed node's ticks are gone with it: no CPU figure for this run.
    t1=$t0
  else
    load "$run"
    t1=$(cpu_ticks "${NODE_PIDS[@]}")
  fi
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  report "$run" "$((t1 - t0))" "$secs"
  if [ -f "$WORK/results/detection.txt" ]; then tee -a "$WORK/results/summary.txt" <"$WORK/results/detection.txt"; fi
  for p in "${NODE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${NODE_PIDS[@]}" 2>/dev/null || true
done
echo "results in $WORK/results"
