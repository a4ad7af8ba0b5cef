#!/usr/bin/env bash
# Runs every fuzz target, one after another (go test fuzzes one target per
# run), for FUZZTIME each: a duration (30s, what CI runs) or a count of
# executions (10000000x, the long run in docs/reliability.md). Every
# target runs even when one fails; the exit status says whether all held.
#
#   scripts/fuzz.sh                                  # 30 s each
#   FUZZTIME=2m scripts/fuzz.sh FuzzPayloads         # only the named targets
#   FUZZTIME=10000000x FUZZ_PARALLEL=1 FUZZ_LOGS=/tmp/fuzzlong scripts/fuzz.sh
#
# FUZZ_PARALLEL is go test's -parallel (fuzzing workers; default one per
# CPU). FUZZMINIMIZETIME bounds the shrinking of each new interesting
# input, by default to 2000 executions: go test's default, 60 s, kills
# and restarts the worker when it runs out, which for the server targets
# (a few hundred executions a second, each input reshaped for a minute,
# then a new server started) cost most of the run. With FUZZ_LOGS each target's output also goes to FUZZ_LOGS/<name>.log,
# ending with its command and wall time. A crasher is written under the
# package's testdata/fuzz/<target>/: fix the bug and check the file in, so
# every later `go test` runs it as a regression test.
set -uo pipefail
cd "$(dirname "$0")/.."

# package target: every decoder of outside input, fastest first.
targets=(
  "./protocol/ FuzzDecodeClientFrame"   # the /ws envelope
  "./protocol/ FuzzDecodeLegacyFrame"   # the /socket envelope
  "./protocol/ FuzzPayloads"            # every frame payload and REST body, decoded and validated
  "./protocol/ FuzzDecodeProfilePatch"  # PATCH /users/profile
  "./config/ FuzzConfigFile"            # the config file (YAML, JSON) and the score catalog
  "./loadgen/ FuzzDecodeFrame"          # the load generator's reading of server frames
  "./server/ FuzzSocketFrames"          # every served frame type, both dialects, on a real server
  "./server/ FuzzRESTRequests"          # every REST route, on a real server
)

fuzztime=${FUZZTIME:-30s}
args=(-run '^$' -fuzztime "$fuzztime" -fuzzminimizetime "${FUZZMINIMIZETIME:-2000x}")
[ -n "${FUZZ_PARALLEL:-}" ] && args+=(-parallel "$FUZZ_PARALLEL")
[ -n "${FUZZ_LOGS:-}" ] && mkdir -p "$FUZZ_LOGS"

failed=()
for t in "${targets[@]}"; do
  pkg=${t%% *}
  name=${t##* }
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  cmd=(go test "${args[@]}" -fuzz "^${name}\$" "$pkg")
  echo "== $name ($pkg, $fuzztime)"
  start=$(date +%s)
  if [ -n "${FUZZ_LOGS:-}" ]; then
    "${cmd[@]}" 2>&1 | tee "$FUZZ_LOGS/$name.log"
    status=${PIPESTATUS[0]}
    printf 'command: %s\nwall: %ss\nexit: %s\n' "${cmd[*]}" "$(($(date +%s) - start))" "$status" >>"$FUZZ_LOGS/$name.log"
  else
    "${cmd[@]}"
    status=$?
  fi
  [ "$status" -eq 0 ] || failed+=("$name")
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets failed: ${failed[*]}" >&2
  exit 1
fi
