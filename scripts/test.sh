#!/usr/bin/env bash
# Runs the whole test suite twice: on SQLite, then on PostgreSQL.
#
# PostgreSQL comes from WORKSPACED_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres); every test creates a schema of
# its own there and drops it (the reliability binary creates a database per
# test, since it runs real server processes). Without a reachable PostgreSQL the second half
# is skipped with a loud notice, except under CI=true, where that fails.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${WORKSPACED_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export WORKSPACED_TEST_POSTGRES_URL="$PG_URL"

if cargo nextest --version >/dev/null 2>&1; then
  run=(cargo nextest run --no-fail-fast)
  api_only=(--test api --test reliability)
else
  run=(cargo test --no-fail-fast)
  api_only=(--test api --test reliability)
fi

pg_reachable() {
  # host and port out of postgres://user@host:port/db
  local rest="${PG_URL#*://}"; rest="${rest#*@}"; local hostport="${rest%%/*}"
  local host="${hostport%%:*}" port="5432"
  [[ "$hostport" == *:* ]] && port="${hostport##*:}"
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

echo "==> workspaced tests on SQLite"
WORKSPACED_TEST_DATABASE=sqlite "${run[@]}" "$@"

if pg_reachable; then
  echo "==> workspaced tests on PostgreSQL ($PG_URL)"
  WORKSPACED_TEST_DATABASE=postgres "${run[@]}" "${api_only[@]}" "$@"
else
  echo "!!! PostgreSQL is not reachable at $PG_URL: the PostgreSQL half of the suite was SKIPPED." >&2
  if [[ "${CI:-}" == "true" ]]; then
    echo "!!! CI=true: a skipped PostgreSQL half is a failure." >&2
    exit 1
  fi
fi
