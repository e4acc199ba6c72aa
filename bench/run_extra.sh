#!/usr/bin/env bash
# The scenarios the shared harness (run_scenarios.sh) does not have, measured
# and recorded exactly like it does (same wrk flags, same results.jsonl line),
# so compare.py and bench/report.py treat them alike.
#
#   bench/run_extra.sh TARGET_ENV LABEL
#
# Scenarios (SCENARIOS, default "deep patch member"):
#   deep    GET DEEP_LIST_PATH: the list page behind a cursor ~1,000 rows deep
#           (shared wrk/list.lua with LIST_PATH=DEEP_LIST_PATH)
#   patch   PATCH PATCH_PATH_TEMPLATE with If-Match (bench/wrk/patch.lua); the
#           current versions are read through the list API before every wrk run
#   member  POST MEMBER_PATH_TEMPLATE {user_id, role} (bench/wrk/add_member.lua);
#           SKIPPED (recorded in $OUT_DIR/skipped.txt) when the route is not in
#           the target's /openapi.json
# Knobs: as run_scenarios.sh (WRK_*, WARMUP, PIN, WRK_CPU, ROUND, OUT_DIR, PREFLIGHT),
#   SHARED_BENCH [/work/shared/bench], OPENAPI_URL (where to look for the member
#   route; default BASE_URL/openapi.json), STATE_DIR (add-member pair counter).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SHARED_BENCH="${SHARED_BENCH:-/work/shared/bench}"
TARGET_ENV="${1:?usage: run_extra.sh TARGET_ENV LABEL}"
LABEL="${2:?usage: run_extra.sh TARGET_ENV LABEL}"
# shellcheck disable=SC1090
source "$TARGET_ENV"
SCENARIOS="${SCENARIOS:-deep patch member}"
WRK_THREADS="${WRK_THREADS:-1}" WRK_CONNS="${WRK_CONNS:-32}" WRK_DURATION="${WRK_DURATION:-10s}"
WARMUP="${WARMUP:-3s}" WRK_TIMEOUT="${WRK_TIMEOUT:-5s}" PIN="${PIN:-1}" WRK_CPU="${WRK_CPU:-1}"
ROUND="${ROUND:-1}" PREFLIGHT="${PREFLIGHT:-1}" STATE_DIR="${STATE_DIR:-/tmp/workspaced-bench}"
OUT_DIR="${OUT_DIR:-$HERE/results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT_DIR" "$STATE_DIR"
case "$BASE_URL" in http://127.*|http://localhost*) ;; *) echo "refusing non-loopback $BASE_URL" >&2; exit 2 ;; esac
BASE_URL="${BASE_URL%/}"
export TOKEN AUTH_SCHEME="${AUTH_SCHEME:-Bearer}" AUTH_HEADER="${AUTH_HEADER:-Authorization}"
export AUTH_HEADER_VALUE="${AUTH_HEADER_VALUE:-}" EXTRA_HEADERS="${EXTRA_HEADERS:-}"
wrk_prefix=(); [[ "$PIN" == "1" ]] && wrk_prefix=(taskset -c "$WRK_CPU")
clk_tck="$(getconf CLK_TCK)"
proc_cpu_ticks() {
  [[ -n "${SERVER_PID:-}" && -r "/proc/$SERVER_PID/stat" ]] || { echo ""; return; }
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$SERVER_PID/stat"
}
sys_cpu() { awk '/^cpu / { t=0; for (i=2;i<=NF;i++) t+=$i; idle=$5+$6; print t-idle-$9, t, $9 }' /proc/stat; }

# id=version for every id in PATCH_IDS, read from the list API (10 pages of 100
# for 1,000 ids). The ceiling has no versions: it gets version 1 throughout.
patch_versions() {
  python3 - "$BASE_URL" "$TOKEN" "$PATCH_IDS" "$LABEL" <<'PY'
import json, sys, urllib.request, urllib.parse
base, token, ids, label = sys.argv[1:5]
want = ids.split(",")
if label.startswith("ceiling"):
    print(",".join(f"{i}=1" for i in want)); sys.exit()
have, cursor = {}, None
while True:
    q = {"limit": "100"}
    if cursor: q["cursor"] = cursor
    req = urllib.request.Request(f"{base}/v1/workspaces?{urllib.parse.urlencode(q)}",
                                 headers={"Authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req))
    for w in page["data"]:
        have[w["id"]] = w["version"]
    cursor = page["meta"].get("next_cursor")
    if not cursor or all(i in have for i in want): break
missing = [i for i in want if i not in have]
if missing: sys.exit(f"patch: {len(missing)} ids not in the list, e.g. {missing[0]}")
print(",".join(f"{i}={have[i]}" for i in want))
PY
}

member_route_exists() {
  local url="${OPENAPI_URL:-$BASE_URL/openapi.json}"
  curl -sf "$url" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if "post" in d.get("paths",{}).get("/v1/workspaces/{workspace}/members",{}) else 1)'
}

run_wrk() {  # run_wrk SCENARIO SCRIPT
  local sc="$1" script="$2"
  [[ "$sc" == member ]] && export MEMBER_OFFSET="$(cat "$MEMBER_STATE" 2>/dev/null || echo 0)"
  [[ "$sc" == patch ]] && export PATCH_VERSIONS="$(patch_versions)"
  if [[ "$WARMUP" != "0" && "$WARMUP" != "0s" ]]; then
    RUN_ID="w$(date +%s%N)" "${wrk_prefix[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WARMUP" \
      --timeout "$WRK_TIMEOUT" -s "$script" "$BASE_URL" > /dev/null
  fi
  [[ "$sc" == member ]] && export MEMBER_OFFSET="$(cat "$MEMBER_STATE" 2>/dev/null || echo 0)"
  [[ "$sc" == patch ]] && export PATCH_VERSIONS="$(patch_versions)"
  local raw="$OUT_DIR/$LABEL-$sc-r$ROUND.txt" p0 p1 sb0 st0 ss0 sb1 st1 ss1
  p0="$(proc_cpu_ticks)"; read -r sb0 st0 ss0 < <(sys_cpu)
  RUN_ID="r$(date +%s%N)" /usr/bin/time -f 'WRK_TIME user=%U sys=%S wall=%e' -o "$raw.time" \
    "${wrk_prefix[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" \
    --timeout "$WRK_TIMEOUT" --latency -s "$script" "$BASE_URL" > "$raw"
  p1="$(proc_cpu_ticks)"; read -r sb1 st1 ss1 < <(sys_cpu)
  cat "$raw.time" >> "$raw"; rm -f "$raw.time"
  python3 - "$raw" "$LABEL" "$sc" "$ROUND" "$OUT_DIR/results.jsonl" "$p0" "$p1" "$clk_tck" \
    "$sb0 $st0 $ss0 $sb1 $st1 $ss1" "$(nproc)" "$WRK_THREADS $WRK_CONNS $WRK_DURATION $WARMUP $WRK_TIMEOUT" <<'PY'
import json, re, sys, time
raw, label, sc, rnd, out, p0, p1, tck, sysv, ncpu, wrkv = sys.argv[1:12]
text = open(raw).read()
j = json.loads(re.search(r"^WRK_JSON (.*)$", text, re.M).group(1))
m = re.search(r"WRK_TIME user=([\d.]+) sys=([\d.]+) wall=([\d.]+)", text)
wrk_cpu = (float(m.group(1)) + float(m.group(2))) / float(m.group(3)) * 100 if m else None
srv = (int(p1) - int(p0)) / int(tck) / j["duration_s"] * 100 if p0 and p1 else None
sb0, st0, ss0, sb1, st1, ss1 = map(int, sysv.split())
th, conns, dur, warm, tmo = wrkv.split()
n = int(ncpu)
j.update({"label": label, "scenario": sc, "round": int(rnd), "ts": time.strftime("%Y-%m-%dT%H:%M:%S"),
  "wrk": {"threads": int(th), "conns": int(conns), "duration": dur, "warmup": warm, "timeout": tmo},
  "server_cpu_pct": None if srv is None else round(srv, 1),
  "wrk_cpu_pct": None if wrk_cpu is None else round(wrk_cpu, 1),
  "system_busy_pct": round((sb1 - sb0) / max(1, st1 - st0) * 100 * n, 1),
  "steal_pct": round((ss1 - ss0) / max(1, st1 - st0) * 100 * n, 1),
  "non2xx_or_errors": j["err_status"] + j["err_connect"] + j["err_read"] + j["err_write"] + j["err_timeout"],
  "bytes_per_resp": round(j["bytes"] / max(1, j["requests"]), 1)})
open(out, "a").write(json.dumps(j) + "\n")
print(f"[{label}] {sc:6s} r{rnd}: {j['rps']:>10.1f} req/s  p50 {j['p50_ms']:.3f} ms  p99 {j['p99_ms']:.3f} ms  "
      f"errors {j['non2xx_or_errors']}  server cpu {j['server_cpu_pct']}%  steal {j['steal_pct']}%")
PY
}

preflight() {  # preflight METHOD PATH [BODY] [IF-MATCH]
  local args=(-s -o /tmp/bench-extra.$$ -w '%{http_code}' -X "$1" -H "Authorization: $AUTH_SCHEME $TOKEN")
  [[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  [[ -n "${4:-}" ]] && args+=(-H "If-Match: \"$4\"")
  local code; code="$(curl "${args[@]}" "$BASE_URL$2")"
  echo "[$LABEL] preflight $1 $2 -> HTTP $code"
  if [[ "$code" != 2* ]]; then head -c 600 /tmp/bench-extra.$$ >&2; echo >&2; rm -f /tmp/bench-extra.$$; return 1; fi
  rm -f /tmp/bench-extra.$$
}

for sc in $SCENARIOS; do
  case "$sc" in
    deep)
      export LIST_PATH="${DEEP_LIST_PATH:?DEEP_LIST_PATH missing}"
      [[ "$PREFLIGHT" == 1 ]] && preflight GET "$LIST_PATH"
      run_wrk deep "$SHARED_BENCH/wrk/list.lua" ;;
    patch)
      export PATCH_PATH_TEMPLATE PATCH_BODY="${PATCH_BODY:-}" PATCH_IDS="${PATCH_IDS:-$GET_IDS}"
      if [[ "$PREFLIGHT" == 1 && "$LABEL" != ceiling* ]]; then
        first="${PATCH_IDS%%,*}"; v="$(PATCH_IDS="$first" patch_versions)"
        preflight PATCH "${PATCH_PATH_TEMPLATE//\{id\}/$first}" '{"description":"preflight"}' "${v##*=}"
      fi
      run_wrk patch "$HERE/wrk/patch.lua" ;;
    member)
      if ! member_route_exists; then
        echo "[$LABEL] member: SKIPPED (no POST /v1/workspaces/{workspace}/members in the OpenAPI document)"
        echo "$LABEL member r$ROUND skipped: route not present" >> "$OUT_DIR/skipped.txt"
        continue
      fi
      export MEMBER_PATH_TEMPLATE MEMBER_WS_IDS MEMBER_USER_IDS
      export MEMBER_STATE="$STATE_DIR/member-offset-$LABEL"
      run_wrk member "$HERE/wrk/add_member.lua" ;;
    *) echo "unknown extra scenario $sc" >&2; exit 2 ;;
  esac
done
