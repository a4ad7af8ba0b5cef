#!/usr/bin/env bash
# bench/compare.sh: the engine next to its anchors, on one machine in one
# window (compare the ratios, not the absolute figures, on a shared machine).
#
#   (a) memory: what an idle session costs the server (gisbi-load, on /ws
#       and on the legacy /socket) against what an idle connection costs the
#       bare WebSocket stack it is built on (bench/wsfloor);
#   (b) radar: `gisbi-load --scenario radar` against Tile38 answering the
#       same questions on the same points (bench/tile38radar), with no radar
#       pushes during the run.
#
# Environment:
#   N=10000        sessions, connections and live radar points
#   QUERIES=200000 radar updates in all;  CONNS=32 closed-loop clients
#   SETTLE=5s      wait before sampling memory;  DURATION=10s idle phase
#   QUICK=1        a smoke test: N=1000 QUERIES=20000 SETTLE=2s DURATION=3s,
#                  MIXED=1000:250 MIXED_DURATION=10s
#   PARTS="memory radar"  which parts to run; add "mixed" for the mixed
#                  city runs (not part of the default: about 10 minutes)
#   MIXED="4000:1000 8000:2000 10000:2500 16000:4000"  users:pairs per run
#   MIXED_DURATION=60s  traffic per mixed run
#   TILE38_SERVER  a tile38-server binary; else TILE38_SRC, a tidwall/tile38
#                  checkout to build one from; else part (b) runs GISBI alone
#   WORK           directory for binaries, data, logs and results (default: a
#                  fresh temp dir, kept)
#   PORT=18700     first port to try
# Needs Go, jq, and `ulimit -n` above N + 1000.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${QUICK:-0}" = 1 ]; then
  : "${N:=1000}" "${QUERIES:=20000}" "${SETTLE:=2s}" "${DURATION:=3s}" "${MIXED:=1000:250}" "${MIXED_DURATION:=10s}"
fi
N=${N:-10000} QUERIES=${QUERIES:-200000} CONNS=${CONNS:-32}
SETTLE=${SETTLE:-5s} DURATION=${DURATION:-10s} PARTS=${PARTS:-memory radar}
MIXED=${MIXED:-4000:1000 8000:2000 10000:2500 16000:4000} MIXED_DURATION=${MIXED_DURATION:-60s}
WORK=${WORK:-$(mktemp -d -t gisbi-compare-XXXXXX)}
BIN=$WORK/bin RES=$WORK/results
mkdir -p "$BIN" "$RES" "$WORK/logs"

command -v jq >/dev/null || { echo "compare.sh: needs jq" >&2; exit 2; }
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 1000)) ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if [ "$(ulimit -n)" -lt $((N + 1000)) ]; then
    echo "compare.sh: ulimit -n is $(ulimit -n), too low for N=$N (each side holds N sockets)" >&2; exit 2
  fi
fi

# Processes this script started, stopped on the way out.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

port=${PORT:-18700}
# next_port sets port to the next one nobody listens on.
next_port() {
  port=$((port + 1))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
}
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "compare.sh: nothing listens on port $1 after 30 s (see $WORK/logs)" >&2; exit 1
}
# start NAME CMD...: runs CMD in the background, logging to logs/NAME.log;
# sets pid.
start() {
  local name=$1; shift
  "$@" >"$WORK/logs/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# gisbi_server NAME [ENV...]: a fresh dev server on a free port; sets pid and url.
gisbi_server() {
  local name=$1; shift
  next_port
  local data; data=$(mktemp -d "$WORK/data-$name-XXXX")
  # Logins are paced under the REST limit per source address: a high limit
  # only makes set-up shorter, it is not what is measured.
  start "$name" env GISBI_HTTP_RATE=10000 GISBI_HTTP_BURST=10000 "$@" \
    "$BIN/gisbi" serve --dev --data-dir "$data" --addr "127.0.0.1:$port" --log-level warn
  url=http://127.0.0.1:$port
  wait_port "$port"
}
LOADFLAGS=(--http-rate 10000 --http-burst 10000)

echo "== build (results in $WORK)"
go build -o "$BIN/gisbi" ./cmd/gisbi
go build -o "$BIN/gisbi-load" ./cmd/gisbi-load
go build -o "$BIN/wsfloor" ./bench/wsfloor
go build -o "$BIN/tile38radar" ./bench/tile38radar
tile38=${TILE38_SERVER:-}
if [ -z "$tile38" ] && [ -n "${TILE38_SRC:-}" ]; then
  echo "building tile38-server from $TILE38_SRC"
  (cd "$TILE38_SRC" && go build -o "$BIN/tile38-server" ./cmd/tile38-server)
  tile38=$BIN/tile38-server
fi

case " $PARTS " in *" memory "*)
  echo "== (a) memory: $N idle connections"
  next_port
  start wsfloor "$BIN/wsfloor" server "127.0.0.1:$port"
  wait_port "$port"
  "$BIN/wsfloor" client --settle "$SETTLE" --server-pid "$pid" --json --hold=false "127.0.0.1:$port" "$N" >"$RES/wsfloor.json"
  stop "$pid"
  echo "bare stack: $(jq -r '"\(.conns) connections, \(.perConnBytes / 1024 * 10 | round / 10) KB each"' "$RES/wsfloor.json")"

  for dialect in ws socket; do
    gisbi_server "idle-$dialect"
    "$BIN/gisbi-load" --server "$url" --dialect "$dialect" --users "$N" --pairs 0 --location-every 0 --chat-rate 0 \
      --duration "$DURATION" --settle "$SETTLE" --server-pid "$pid" "${LOADFLAGS[@]}" --json \
      >"$RES/gisbi-idle-$dialect.json" 2>"$WORK/logs/gisbi-load-idle-$dialect.log" || true
    stop "$pid"
    echo "gisbi /$dialect: $(jq -r '"\(.sessions.connected) sessions, \(.server.perSessionBytes / 1024 * 10 | round / 10) KB each (pass \(.pass))"' "$RES/gisbi-idle-$dialect.json")"
  done
;; esac

case " $PARTS " in *" radar "*)
  echo "== (b) radar: $N live points, $QUERIES updates from $CONNS clients"
  if [ -n "$tile38" ]; then
    next_port
    start tile38 "$tile38" -h 127.0.0.1 -p "$port" -d "$(mktemp -d "$WORK/data-tile38-XXXX")" -q
    wait_port "$port"
    "$BIN/tile38radar" --addr "127.0.0.1:$port" --points "$N" --queries "$QUERIES" --conns "$CONNS" --updates --json >"$RES/tile38.json"
    stop "$pid"
    echo "tile38: $(jq -r '"\(.queriesPerSec | round) updates/s, p50 \(.p50Ms * 100 | round / 100) ms, p99 \(.p99Ms * 100 | round / 100) ms, \(.avgResults * 10 | round / 10) results"' "$RES/tile38.json")"
  else
    echo "tile38: skipped (set TILE38_SERVER to a tile38-server binary, or TILE38_SRC to a tidwall/tile38 checkout)"
  fi
  # No pushes during the run (the baseline), no frame limit a closed loop
  # would hit, and live points that do not go stale before the end.
  gisbi_server radar GISBI_WS_RATE=1000000 GISBI_WS_BURST=1000000 GISBI_RADAR_INTERVAL=1h GISBI_PRESENCE_TTL=1h
  "$BIN/gisbi-load" --server "$url" --scenario radar --users "$N" --conns "$CONNS" --queries "$QUERIES" \
    --server-pid "$pid" "${LOADFLAGS[@]}" --json >"$RES/gisbi-radar.json" 2>"$WORK/logs/gisbi-load-radar.log" || true
  stop "$pid"
  echo "gisbi: $(jq -r '.radar | "\(.updatesPerSec | round) updates/s, p50 \(.latencyMs.p50) ms, p99 \(.latencyMs.p99) ms, \(.avgResults) results, \(.pushes) pushes"' "$RES/gisbi-radar.json")" \
    "$(jq -r '"(pass \(.pass); server \(.server.avgCoresSteady * 100 | round / 100) cores, generator \(.generator.avgCores * 100 | round / 100) cores)"' "$RES/gisbi-radar.json")"
;; esac

case " $PARTS " in *" mixed "*)
  # The mixed city: users walk (a location every 10 s), pairs heartbeat
  # (every 5 s), 100 chat messages/s, 60 s of traffic, default server
  # settings, a fresh server per size. Targets: p99 ≤ 25 ms up to 8,000
  # users, ≤ 50 ms at 10,000, and no errors with p99 ≤ 250 ms at 16,000.
  for size in $MIXED; do
    users=${size%%:*} pairs=${size##*:}
    echo "== (c) mixed: $users users, $pairs BLE pairs, 100 chat msgs/s, $MIXED_DURATION"
    gisbi_server "mixed-$users"
    "$BIN/gisbi-load" --server "$url" --users "$users" --pairs "$pairs" --duration "$MIXED_DURATION" --chat-rate 100 \
      --server-pid "$pid" "${LOADFLAGS[@]}" --json >"$RES/gisbi-mixed-$users.json" 2>"$WORK/logs/gisbi-load-mixed-$users.log" || true
    stop "$pid"
    jq -r --arg u "$users" '
      def p99(t): ([.ops[] | select(.type == t) | .latencyMs.p99][0] // "n/a");
      "mixed \($u): p99 location \(p99("presence.location_update")) ms, heartbeat \(p99("proximity.heartbeat")) ms, chat \(p99("chat.message.created")) ms; errors \(.errors | tostring); server \(.server.avgCoresSteady * 100 | round / 100) cores; pass \(.pass)"
    ' "$RES/gisbi-mixed-$users.json"
  done
;; esac

# The ratios and their targets, also in results/compare.json.
jq -n --arg n "$N" --arg conns "$CONNS" --arg queries "$QUERIES" \
  --slurpfile floor <(cat "$RES/wsfloor.json" 2>/dev/null || echo null) \
  --slurpfile ws <(cat "$RES/gisbi-idle-ws.json" 2>/dev/null || echo null) \
  --slurpfile sock <(cat "$RES/gisbi-idle-socket.json" 2>/dev/null || echo null) \
  --slurpfile t38 <(cat "$RES/tile38.json" 2>/dev/null || echo null) \
  --slurpfile radar <(cat "$RES/gisbi-radar.json" 2>/dev/null || echo null) '
  def r2: . * 100 | round / 100;
  {n: ($n | tonumber), conns: ($conns | tonumber), queries: ($queries | tonumber),
   bareKBPerConn: ($floor[0].perConnBytes // null | if . then ./1024 | r2 else null end),
   gisbiKBPerSession: ($ws[0].server.perSessionBytes // null | if . then ./1024 | r2 else null end),
   gisbiLegacyKBPerSession: ($sock[0].server.perSessionBytes // null | if . then ./1024 | r2 else null end),
   tile38UpdatesPerSec: ($t38[0].queriesPerSec // null | if . then round else null end),
   tile38P99Ms: ($t38[0].p99Ms // null | if . then r2 else null end),
   gisbiUpdatesPerSec: ($radar[0].radar.updatesPerSec // null | if . then round else null end),
   gisbiP99Ms: ($radar[0].radar.latencyMs.p99 // null),
   gisbiRadarPass: ($radar[0].pass // null)}
  | .memoryRatio = (if .bareKBPerConn and .gisbiKBPerSession then (.gisbiKBPerSession / .bareKBPerConn | r2) else null end)
  | .legacyMemoryRatio = (if .bareKBPerConn and .gisbiLegacyKBPerSession then (.gisbiLegacyKBPerSession / .bareKBPerConn | r2) else null end)
  | .radarRatio = (if .tile38UpdatesPerSec and .gisbiUpdatesPerSec then (.gisbiUpdatesPerSec / .tile38UpdatesPerSec | r2) else null end)
  ' >"$RES/compare.json"

echo "== ratios (N=$N, $CONNS clients, $QUERIES updates)"
jq -r '
  def v: if . == null then "n/a" else tostring end;
  def verdict(ok): if ok == null then "" elif ok then "  meets" else "  MISSES" end;
  "memory  /ws     \(.gisbiKBPerSession | v) KB/session ÷ bare \(.bareKBPerConn | v) KB/conn = \(.memoryRatio | v)   (target ≤ 1.25)" + verdict(if .memoryRatio then .memoryRatio <= 1.25 else null end),
  "memory  /socket \(.gisbiLegacyKBPerSession | v) KB/session ÷ bare \(.bareKBPerConn | v) KB/conn = \(.legacyMemoryRatio | v)   (target ≤ 1.25)" + verdict(if .legacyMemoryRatio then .legacyMemoryRatio <= 1.25 else null end),
  "radar   gisbi \(.gisbiUpdatesPerSec | v) updates/s ÷ tile38 \(.tile38UpdatesPerSec | v) = \(.radarRatio | v)   (target ≥ 1, aim 2)" + verdict(if .radarRatio then .radarRatio >= 1 else null end),
  "p99     gisbi \(.gisbiP99Ms | v) ms (target ≤ 10)" + verdict(if .gisbiP99Ms then .gisbiP99Ms <= 10 else null end) + "; tile38 \(.tile38P99Ms | v) ms"
' "$RES/compare.json"
echo "(raw results in $RES; logs in $WORK/logs)"
