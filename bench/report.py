#!/usr/bin/env python3
"""Markdown report of a bench/run.sh output directory (every phase in it).

  report.py OUT_DIR > report.md

Per (phase, scenario): our median req/s over rounds (min-max), median p50 and
p99, errors, and the median of the per-round ratios to the ceiling and to
PocketBase measured back to back in the same round. Then seeding rates,
server peak RSS (VmHWM) and the scaling of get/list/deep from 10,000 to
1,000,000 memberships.
"""
import glob
import json
import os
import statistics as st
import sys
from collections import defaultdict

out = sys.argv[1]
phases = []
for pj in sorted(glob.glob(os.path.join(out, "*", "phase.json"))):
    d = os.path.dirname(pj)
    ph = json.load(open(pj))
    rows = [json.loads(l) for l in open(os.path.join(d, "results.jsonl")) if l.strip()]
    fx = json.load(open(os.path.join(d, "fixture.json")))
    rss = {}
    if os.path.exists(os.path.join(d, "rss.txt")):
        for line in open(os.path.join(d, "rss.txt")):
            k, v = line.split(":", 1)
            rss[k] = v.strip()
    skipped = open(os.path.join(d, "skipped.txt")).read().split("\n") if os.path.exists(os.path.join(d, "skipped.txt")) else []
    phases.append((ph, rows, fx, rss, skipped))


def fmt(x, nd=1):
    return "n/a" if x is None else f"{x:,.{nd}f}"


def summary(rows):
    by = defaultdict(list)
    for r in rows:
        by[(r["label"], r["scenario"])].append(r)
    rps = {(r["label"], r["scenario"], r["round"]): r["rps"] for r in rows}
    order = []
    for r in rows:
        if r["scenario"] not in order:
            order.append(r["scenario"])
    res = []
    for sc in order:
        ours = by.get(("ours", sc))
        if not ours:
            continue
        vals = [r["rps"] for r in ours]
        def ratio(base):
            rs = [r["rps"] / rps[(base, sc, r["round"])] for r in ours if (base, sc, r["round"]) in rps]
            return st.median(rs) if rs else None
        res.append({
            "scenario": sc, "rps": st.median(vals), "min": min(vals), "max": max(vals),
            "p50": st.median(r["p50_ms"] for r in ours), "p99": st.median(r["p99_ms"] for r in ours),
            "errors": sum(r["non2xx_or_errors"] for r in ours),
            "cpu": st.median(r["server_cpu_pct"] for r in ours) if all(r["server_cpu_pct"] is not None for r in ours) else None,
            "steal": max(r["steal_pct"] for r in ours),
            "vs_ceiling": ratio("ceiling"), "vs_pb": ratio("pocketbase"),
            "pb_rps": st.median([r["rps"] for r in by[("pocketbase", sc)]]) if by.get(("pocketbase", sc)) else None,
            "ceiling_rps": st.median([r["rps"] for r in by[("ceiling", sc)]]) if by.get(("ceiling", sc)) else None,
            "rounds": len(ours),
        })
    return res


print("| DB | data | scenario | ours req/s median (min–max) | p50 ms | p99 ms | errors | server CPU % | max steal % | ceiling req/s | PocketBase req/s | ratio vs ceiling | ratio vs PocketBase |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
sums = {}
for ph, rows, fx, rss, skipped in phases:
    s = summary(rows)
    sums[ph["phase"]] = s
    data = f"{ph['size']}: {ph['memberships']:,} memb."
    for x in s:
        print(f"| {ph['db']} | {data} | {x['scenario']} | {fmt(x['rps'])} ({fmt(x['min'])}–{fmt(x['max'])}) | "
              f"{fmt(x['p50'], 3)} | {fmt(x['p99'], 3)} | {x['errors']} | {fmt(x['cpu'])} | {fmt(x['steal'])} | "
              f"{fmt(x['ceiling_rps'])} | {fmt(x['pb_rps'])} | {fmt(x['vs_ceiling'], 4)} | {fmt(x['vs_pb'], 2)} |")
    for line in skipped:
        if line.startswith("ours "):
            print(f"| {ph['db']} | {data} | {line.split()[1]} | skipped: {line.split(':', 1)[1].strip()} | | | | | | | | | |")

print()
print("Seeding (`workspaced admin seed-bench`, unpinned):")
print()
print("| DB | users | workspaces | memberships | users rows/s | workspaces+memberships rows/s | total s | total rows/s |")
print("|---|---|---|---|---|---|---|---|")
for ph, rows, fx, rss, skipped in phases:
    sd = fx["seeding"]
    print(f"| {ph['db']} | {ph['users']:,} | {ph['workspaces']:,} | {fx['sizes']['memberships']:,} | {fmt(sd['users_rows_per_s'], 0)} | "
          f"{fmt(sd['workspaces_and_memberships_rows_per_s'], 0)} | {fmt(sd['total_secs'], 2)} | {fmt(sd['total_rows_per_s'], 0)} |")

print()
print("Server memory after the phase (from /proc/PID/status):")
print()
print("| DB | data | VmHWM (peak RSS) | VmRSS |")
print("|---|---|---|---|")
for ph, rows, fx, rss, skipped in phases:
    print(f"| {ph['db']} | {ph['size']}: {ph['memberships']:,} memb. | {rss.get('VmHWM', 'n/a')} | {rss.get('VmRSS', 'n/a')} |")

pairs = defaultdict(dict)
for ph, rows, fx, rss, skipped in phases:
    pairs[ph["db"]][(ph["memberships"], ph["phase"])] = sums[ph["phase"]]
lines = []
for db, by_m in pairs.items():
    if len(by_m) < 2:
        continue
    lo, hi = min(by_m), max(by_m)
    for x in by_m[lo]:
        y = next((y for y in by_m[hi] if y["scenario"] == x["scenario"]), None)
        if y:
            lines.append(f"| {db} | {x['scenario']} | {lo[0]:,} ({lo[1]}) | {fmt(x['rps'])} | {hi[0]:,} ({hi[1]}) | {fmt(y['rps'])} | {fmt(x['rps'] / y['rps'], 3)} | "
                         f"{fmt(x['vs_ceiling'], 4)} | {fmt(y['vs_ceiling'], 4)} |")
if lines:
    print()
    print("Scaling (same bench user with the same number of workspaces; only the table sizes change).")
    print("The cost ratio is the cost of a request on the large data over its cost on the small data,")
    print("i.e. req/s small / req/s large: 1.0 means the cost does not grow with the data (target <= 1.3).")
    print()
    print("| DB | scenario | memberships (phase) | req/s | memberships (phase) | req/s | cost ratio large / small | vs ceiling small | vs ceiling large |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
