#!/usr/bin/env bash
# The workspaced benchmark: seed, start `workspaced serve` pinned to CPU 0,
# measure with wrk pinned to CPU 1, interleaved with the ceiling server (and
# PocketBase) from the shared harness, on SQLite and on PostgreSQL.
#
#   bench/run.sh                       # full run (also: make bench)
#   SIZE=smoke ROUNDS=1 WRK_DURATION=3s WARMUP=1s PEER=0 DB=sqlite bench/run.sh
#
# Knobs (environment, defaults in brackets):
#   SIZE      [full]  full  = 10,000 users / 100,000 workspaces / 1,000,000 memberships,
#                             bench user in 1,000 workspaces
#                     small = 1,000 / 5,000 / 10,000, bench user in 1,000
#                     smoke = 100 / 1,000 / 10,000, bench user in 100
#   SCALING   [1 if SIZE=full]  also run get/list/deep at SIZE=small (10,000 memberships)
#   DB        [both]  sqlite | postgres | both
#   ROUNDS    [3]     interleaved rounds per scenario (medians reported)
#   SCENARIOS [get list deep patch member create]  (create runs last: it adds rows)
#   PEER      [1]     1 = PocketBase side by side for get/list/create (shared harness,
#                     seeded at its own 1,000 / 10,000 / 50,000)
#   WRK_DURATION [10s]  WARMUP [3s]  WRK_CONNS [32]  WRK_THREADS [1]  PIN [1]
#   PIN_PG    [1]     with DB=postgres, pin the PostgreSQL server to CPU 0 too (restored after)
#   PG_URL    [postgres://postgres@127.0.0.1:5432]  (databases wsbench_* are dropped/created)
#   PORT      [18100]  STATE_DIR [/tmp/workspaced-bench]  OUT_DIR [bench/results/<timestamp>]
#   BUILD     [1]     cargo build --release first
#   SHARED_BENCH [../shared/bench beside the project]  the shared harness (used in place, never modified)
#
# Output: OUT_DIR/<phase>/ (raw wrk output, results.jsonl, seed fixture, RSS),
# OUT_DIR/report.md (the table for docs/performance.md).
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
SHARED_BENCH="${SHARED_BENCH:-$(cd "$BENCH/../../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)}"
SIZE="${SIZE:-full}"
DB="${DB:-both}"
ROUNDS="${ROUNDS:-3}"
SCENARIOS="${SCENARIOS:-get list deep patch member create}"
PEER="${PEER:-1}"
SCALING="${SCALING:-$([[ "$SIZE" == full ]] && echo 1 || echo 0)}"
PIN_PG="${PIN_PG:-1}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
PORT="${PORT:-18100}"
BUILD="${BUILD:-1}"
export STATE_DIR="${STATE_DIR:-/tmp/workspaced-bench}"
export PIN="${PIN:-1}" SERVER_CPU="${SERVER_CPU:-0}" WRK_CPU="${WRK_CPU:-1}"
export WRK_DURATION="${WRK_DURATION:-10s}" WARMUP="${WARMUP:-3s}" SHARED_BENCH
OUT_DIR="${OUT_DIR:-$BENCH/results/$(date +%Y%m%d-%H%M%S)}"
BIN="$ROOT/target/release/workspaced"
H="$SHARED_BENCH"
mkdir -p "$OUT_DIR" "$STATE_DIR"
exec > >(tee -a "$OUT_DIR/run.log") 2>&1

sizes() {  # users workspaces memberships bench-user-workspaces
  case "$1" in
    full) echo "10000 100000 1000000 1000" ;;
    small) echo "1000 5000 10000 1000" ;;
    smoke) echo "100 1000 10000 100" ;;
    *) echo "unknown SIZE $1" >&2; exit 2 ;;
  esac
}

echo "== workspaced bench $(date -Is) out=$OUT_DIR"
echo "machine: $(nproc) cores, $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "settings: SIZE=$SIZE SCALING=$SCALING DB=$DB ROUNDS=$ROUNDS PEER=$PEER PIN=$PIN PIN_PG=$PIN_PG WRK_DURATION=$WRK_DURATION WARMUP=$WARMUP WRK_CONNS=${WRK_CONNS:-32} SCENARIOS='$SCENARIOS'"
echo "git: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo -dirty)"

if [[ "$BUILD" == 1 ]]; then (cd "$ROOT" && cargo build --release --quiet); fi
[[ -x "$BIN" ]] || { echo "missing $BIN (run with BUILD=1)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get update && apt-get install -y wrk" >&2; exit 2; }

# The shared harness is used in place: given OUT_DIR and STATE_DIR its scripts
# write nothing next to themselves.
server_pid=""
pg_pinned=""
stop_server() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi
}
postmaster_pid() { psql "$PG_URL/postgres" -Atc "SELECT pg_backend_pid()" >/dev/null 2>&1 && head -1 "$(psql "$PG_URL/postgres" -Atc 'SHOW data_directory')/postmaster.pid" 2>/dev/null; }
pin_pg() {  # pin_pg CPULIST: every PostgreSQL process (new backends inherit the postmaster's mask)
  local pm; pm="$(postmaster_pid)" || return 0
  [[ -n "$pm" ]] || return 0
  for p in $pm $(pgrep -P "$pm"); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true; done
}
cleanup() {
  stop_server
  [[ -n "$pg_pinned" ]] && pin_pg "0-$(( $(nproc) - 1 ))"
  "$H/ceiling/ceiling.sh" down >/dev/null 2>&1 || true
  [[ "$PEER" == 1 ]] && KEEP_DATA=0 "$H/peer_pocketbase.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [[ "$PEER" == 1 ]]; then KEEP_DATA=1 "$H/peer_pocketbase.sh" up; fi
peer_fresh=1

# run_phase NAME DB SIZE SCENARIOS WITH_PEER
run_phase() {
  local name="$1" db="$2" size="$3" scenarios="$4" with_peer="$5"
  local dir="$OUT_DIR/$name" u w m b
  read -r u w m b < <(sizes "$size")
  mkdir -p "$dir"
  echo "== phase $name: $db, $u users / $w workspaces / $m memberships / bench user in $b"
  local conn=() sql_db=""
  if [[ "$db" == sqlite ]]; then
    rm -rf "$STATE_DIR/data-$name"; conn=(--data-dir "$STATE_DIR/data-$name")
  else
    sql_db="wsbench_${name//-/_}"
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $sql_db" -c "CREATE DATABASE $sql_db"
    conn=(--database-url "$PG_URL/$sql_db")
  fi
  RUST_LOG=warn "$BIN" "${conn[@]}" admin seed-bench --users "$u" --workspaces "$w" \
    --memberships "$m" --bench-user-workspaces "$b" --fixture "$dir/fixture.json" 2>&1 | tee "$dir/seed.log"

  if [[ "$db" == postgres && "$PIN_PG" == 1 && "$PIN" == 1 ]]; then pin_pg "$SERVER_CPU"; pg_pinned=1; fi
  local pre=(); [[ "$PIN" == 1 ]] && pre=(taskset -c "$SERVER_CPU")
  RUST_LOG=warn WORKSPACED_RATE_LIMIT_REQUESTS=100000000/1m WORKSPACED_RATE_LIMIT_WORKSPACE_CREATE=100000000/1h \
    setsid "${pre[@]}" "$BIN" "${conn[@]}" serve --listen "127.0.0.1:$PORT" > "$dir/serve.log" 2>&1 < /dev/null &
  server_pid=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" || { cat "$dir/serve.log"; exit 1; }

  python3 "$BENCH/target_env.py" "$dir/fixture.json" "http://127.0.0.1:$PORT" "$server_pid" > "$dir/ours.env"
  mkdir -p "$BENCH/targets"; cp "$dir/ours.env" "$BENCH/targets/ours-$name.env"   # for manual reruns (gitignored)
  # The computed deep cursor must land where walking the list would: its page
  # is the last 20 of the bench user's workspaces, newest first.
  python3 - "$dir/fixture.json" "http://127.0.0.1:$PORT" <<'PY'
import json, sys, urllib.request
fx, base = json.load(open(sys.argv[1])), sys.argv[2]
if fx.get("deep_cursor"):
    req = urllib.request.Request(f"{base}/v1/workspaces?limit=20&cursor={fx['deep_cursor']}",
                                 headers={"Authorization": "Bearer " + fx["bench_user"]["token"]})
    got = [w["id"] for w in json.load(urllib.request.urlopen(req))["data"]]
    assert got == fx["get_ids"][-20:], f"deep page mismatch: {got[:2]} vs {fx['get_ids'][-20:][:2]}"
    print(f"deep cursor ok: page after {fx['deep_cursor_rows_before']} rows = the last 20 workspaces")
PY
  # the ceiling gets our request bytes (ceiling.sh copies the standard keys; the extras are added here)
  "$H/ceiling/ceiling.sh" down >/dev/null 2>&1 || true
  "$H/ceiling/ceiling.sh" up "$dir/ours.env" > "$dir/ceiling.log"
  { cat "$STATE_DIR/ceiling.env"
    grep -E '^(DEEP_LIST_PATH|PATCH_[A-Z_]+|MEMBER_[A-Z_]+)=' "$dir/ours.env"
    echo "OPENAPI_URL=http://127.0.0.1:$PORT/openapi.json"; } > "$dir/ceiling.env"
  if [[ "$with_peer" == 1 ]]; then
    [[ "$peer_fresh" == 1 ]] || "$H/peer_pocketbase.sh" reset
    peer_fresh=0
  fi
  rm -f "$STATE_DIR"/member-offset-*

  for sc in $scenarios; do
    for r in $(seq 1 "$ROUNDS"); do
      case "$sc" in
        get|list|create)
          SCENARIOS="$sc" ROUND="$r" OUT_DIR="$dir" "$H/run_scenarios.sh" "$dir/ceiling.env" ceiling
          if [[ "$with_peer" == 1 ]]; then
            SCENARIOS="$sc" ROUND="$r" OUT_DIR="$dir" "$H/run_scenarios.sh" "$STATE_DIR/pocketbase.env" pocketbase
          fi
          SCENARIOS="$sc" ROUND="$r" OUT_DIR="$dir" "$H/run_scenarios.sh" "$dir/ours.env" ours ;;
        *)
          SCENARIOS="$sc" ROUND="$r" OUT_DIR="$dir" "$BENCH/run_extra.sh" "$dir/ceiling.env" ceiling
          SCENARIOS="$sc" ROUND="$r" OUT_DIR="$dir" "$BENCH/run_extra.sh" "$dir/ours.env" ours ;;
      esac
    done
  done
  grep -E '^(VmHWM|VmRSS)' "/proc/$server_pid/status" | tee "$dir/rss.txt"
  stop_server
  "$H/ceiling/ceiling.sh" down >/dev/null
  if [[ -n "$pg_pinned" ]]; then pin_pg "0-$(( $(nproc) - 1 ))"; pg_pinned=""; fi
  python3 "$H/compare.py" "$dir/results.jsonl" --baseline ceiling --md "$dir/summary.md" --json "$dir/summary.json" >/dev/null
  echo "{\"phase\":\"$name\",\"db\":\"$db\",\"size\":\"$size\",\"users\":$u,\"workspaces\":$w,\"memberships\":$m,\"bench_user_workspaces\":$b}" > "$dir/phase.json"
}

dbs="$DB"; [[ "$DB" == both ]] && dbs="sqlite postgres"
for db in $dbs; do
  run_phase "$db-$SIZE" "$db" "$SIZE" "$SCENARIOS" "$PEER"
  if [[ "$SCALING" == 1 && "$SIZE" != small ]]; then
    scal=""; for s in get list deep; do [[ " $SCENARIOS " == *" $s "* ]] && scal="$scal $s"; done
    run_phase "$db-small" "$db" small "$scal" 0
  fi
done

python3 "$BENCH/report.py" "$OUT_DIR" > "$OUT_DIR/report.md"
cat "$OUT_DIR/report.md"
