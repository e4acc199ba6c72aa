#!/usr/bin/env python3
"""fixture.json (from `workspaced admin seed-bench`) -> a target env file for
the shared harness (run_scenarios.sh) and bench/run_extra.sh.

  target_env.py FIXTURE BASE_URL [SERVER_PID] > ours.env
"""
import json
import shlex
import sys

fx = json.load(open(sys.argv[1]))
base = sys.argv[2]
pid = sys.argv[3] if len(sys.argv) > 3 else ""
ids = fx["get_ids"]
env = {
    "BASE_URL": base,
    "TOKEN": fx["bench_user"]["token"],
    "GET_PATH_TEMPLATE": "/v1/workspaces/{id}",
    "GET_IDS": ",".join(ids),
    "LIST_PATH": "/v1/workspaces?limit=20",
    "CREATE_PATH": "/v1/workspaces",
    # the same body as the PocketBase create scenario
    "CREATE_BODY": '{"name":"Bench {{uniq}}","slug":"bench-{{uniq}}","description":"Created by the wrk create scenario.",'
    '"settings":{"theme":"dark","visibility":"private","defaultRole":"member","features":["docs","boards"]}}',
    "DEEP_LIST_PATH": f"/v1/workspaces?limit=20&cursor={fx['deep_cursor']}" if fx.get("deep_cursor") else "",
    "PATCH_PATH_TEMPLATE": "/v1/workspaces/{id}",
    "PATCH_IDS": ",".join(ids),
    "PATCH_BODY": '{"description":"patched by wrk {{n}}","settings":{"theme":"dark"}}',
    "MEMBER_PATH_TEMPLATE": "/v1/workspaces/{id}/members",
    "MEMBER_WS_IDS": ",".join(ids),
    "MEMBER_USER_IDS": ",".join(fx["spare_user_ids"]),
}
if pid:
    env["SERVER_PID"] = pid
for k, v in env.items():
    print(f"{k}={shlex.quote(v)}")
