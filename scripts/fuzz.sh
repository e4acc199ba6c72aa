#!/usr/bin/env bash
# Fuzzes a running server from its own OpenAPI document with schemathesis: no
# 5xx, and every response must conform to the document (status code, content
# type, headers, body schema). Bounded: FUZZ_MAX_EXAMPLES per operation and
# FUZZ_MAX_TIME seconds per database. Exit status is non-zero on any failure.
#
#   scripts/fuzz.sh                 # SQLite, then PostgreSQL (a fresh database)
#   FUZZ_DB=sqlite scripts/fuzz.sh
#
# Env (defaults in brackets):
#   FUZZ_DB            [both]   sqlite | postgres | both
#   FUZZ_VENV          [/tmp/workspaced-fuzz-venv]  venv that gets schemathesis
#   SCHEMATHESIS_SPEC  [schemathesis==4.32.5]        what pip installs
#   FUZZ_MAX_EXAMPLES  [25]     examples per operation and phase
#   FUZZ_MAX_TIME      [100]    seconds per database (schemathesis keeps fuzzing until then)
#   FUZZ_SEED          [random] replay a run
#   FUZZ_BIN           [target/debug/workspaced, built if missing]
#   WORKSPACED_TEST_POSTGRES_URL [postgres://postgres@127.0.0.1:5432/postgres]
#   FUZZ_KEEP          keep the temp dir (server log, JUnit/JSON reports)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FUZZ_VENV:-/tmp/workspaced-fuzz-venv}"
SPEC="${SCHEMATHESIS_SPEC:-schemathesis==4.32.5}"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
MAX_TIME="${FUZZ_MAX_TIME:-100}"
SEED="${FUZZ_SEED:-$RANDOM$RANDOM}"
BIN="${FUZZ_BIN:-target/debug/workspaced}"
FUZZ_DB="${FUZZ_DB:-both}"
PG_URL="${WORKSPACED_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if [[ ! -x "$VENV/bin/schemathesis" ]]; then
  echo "==> installing $SPEC into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "$SPEC"
fi
[[ -x "$BIN" ]] || cargo build --quiet
WORK="$(mktemp -d)"
SERVER=""
PG_DB=""
cleanup() {
  [[ -n "$SERVER" ]] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  [[ -n "$PG_DB" ]] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  [[ -n "${FUZZ_KEEP:-}" ]] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

fuzz_one() {  # fuzz_one sqlite|postgres
  local db="$1" dir="$WORK/$1" conn=()
  mkdir -p "$dir"
  if [[ "$db" == postgres ]]; then
    PG_DB="wsd_fuzz_$$"
    psql "$PG_URL" -qc "CREATE DATABASE $PG_DB"
    conn=(--database-url "${PG_URL%/*}/$PG_DB")
  else
    conn=(--data-dir "$dir/data")
  fi
  local port; port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  local base="http://127.0.0.1:$port"
  # Rate limits are raised (never turned off): the fuzzer sends thousands of requests.
  RUST_LOG=warn WORKSPACED_RATE_LIMIT_REQUESTS=100000000/1m WORKSPACED_RATE_LIMIT_WORKSPACE_CREATE=100000000/1h \
    WORKSPACED_RATE_LIMIT_ORGANIZATION_CREATE=100000000/1h WORKSPACED_RATE_LIMIT_LOGIN=100000000/1m \
    WORKSPACED_RATE_LIMIT_JOIN=100000000/1m \
    "$BIN" "${conn[@]}" serve --listen "127.0.0.1:$port" > "$dir/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/readyz" && break; sleep 0.1; done

  # A signed-up user's session token, and a workspace so that operations on
  # {workspace} can find something real.
  local token
  token="$(curl -sf -X POST "$base/v1/auth/signup" -H 'Content-Type: application/json' \
    -d "{\"email\":\"fuzz-$SEED@example.test\",\"password\":\"correct horse battery\",\"name\":\"Fuzz\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
  curl -sf -o /dev/null -X POST "$base/v1/workspaces" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"name":"Fuzz target","slug":"fuzz-target"}'

  echo "==> schemathesis on $db at $base (seed $SEED, $MAX_EXAMPLES examples per operation, ${MAX_TIME}s)"
  local status=0
  # Logging out would revoke the token the rest of the run uses.
  # Run from the temp dir: schemathesis keeps a cache in ./.schemathesis.
  (cd "$dir" && "$VENV/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --header "Authorization: Bearer $token" \
    --exclude-path /v1/auth/logout \
    --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" --seed "$SEED" \
    --phases examples,coverage,fuzzing --workers 2 --no-color \
    --report junit,json --report-dir "$dir/report" \
    --generation-database none --request-timeout 10) || status=$?
  python3 - "$dir/report" "$db" <<'PY' || true
import glob, json, sys
for p in glob.glob(sys.argv[1] + "/json-*.json"):
    d = json.load(open(p))
    t = d["test_cases"]
    print(f"fuzz ({sys.argv[2]}): {t['generated']} examples generated, "
          f"{t['with_failures']} with failures, {t['errored']} errored")
PY
  if grep -q "panicked" "$dir/serve.log"; then echo "server log has panics:"; grep -m5 panicked "$dir/serve.log"; status=1; fi
  kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""
  if [[ -n "$PG_DB" ]]; then psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null; PG_DB=""; fi
  return "$status"
}

dbs="$FUZZ_DB"; [[ "$FUZZ_DB" == both ]] && dbs="sqlite postgres"
failed=0
for db in $dbs; do
  if [[ "$db" == postgres ]] && ! psql "$PG_URL" -qAtc "SELECT 1" >/dev/null 2>&1; then
    echo "!!! PostgreSQL not reachable at $PG_URL: fuzzing on PostgreSQL SKIPPED" >&2
    [[ "${CI:-}" == true ]] && failed=1
    continue
  fi
  fuzz_one "$db" || failed=1
done
exit "$failed"
