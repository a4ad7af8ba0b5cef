# Throwaway backing services for CI and local clusters, sourced by
# .ci/run and scripts/cluster.sh. Each start_* function runs its service
# in a directory under $1 on a random high port of 127.0.0.1, registers
# its stop in STOP_SERVICES, and exports where it listens. Call
# stop_services on exit (the callers trap it).

STOP_SERVICES=()
stop_services() {
  local s
  for s in "${STOP_SERVICES[@]}"; do eval "$s" || true; done
}

_sudo=""
if [ "$(id -u)" -ne 0 ]; then _sudo="sudo"; fi
_apt_updated=""
apt_install() {
  if [ -z "$_apt_updated" ]; then $_sudo apt-get update -qq; _apt_updated=1; fi
  $_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# start_pg DIR: a PostgreSQL cluster owned by the postgres user (initdb
# refuses root); exports PG_URL.
start_pg() {
  local dir="$1/pg" pgbin port run=""
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    apt_install postgresql
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  mkdir -p "$dir"
  port=$((20000 + RANDOM % 20000))
  # The postgres user must be able to reach its directory (mktemp makes
  # parents private).
  if [ "$(id -u)" -eq 0 ]; then run="runuser -u postgres --"; chown postgres "$dir"; chmod o+x "$1"; fi
  $run "$pgbin/initdb" -D "$dir/data" -U postgres -A trust >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
  $run "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  STOP_SERVICES+=("$run $pgbin/pg_ctl -D $dir/data -m immediate stop >/dev/null 2>&1")
  export PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

# start_etcd DIR: a single-member etcd; exports ETCD_ENDPOINT and ETCD_PID.
start_etcd() {
  local dir="$1/etcd" client peer i
  command -v etcd >/dev/null || apt_install etcd-server
  mkdir -p "$dir"
  client=$((20000 + RANDOM % 20000))
  peer=$((client + 1))
  etcd --name gisbi --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "gisbi=http://127.0.0.1:$peer" >"$dir/etcd.log" 2>&1 &
  ETCD_PID=$!
  STOP_SERVICES+=("kill $ETCD_PID 2>/dev/null; wait $ETCD_PID 2>/dev/null")
  for i in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$client/health" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  export ETCD_ENDPOINT="127.0.0.1:$client" ETCD_PID
  echo "etcd $(etcd --version | awk 'NR==1{print $3}') on $ETCD_ENDPOINT"
}
