#!/usr/bin/env python3
"""Fills a state directory's queue with N results, as the agent would have queued them during
an outage (benches/run.sh, P5). Usage: fill-queue.py STATE_DIR N"""

import json
import os
import sys
import time

state, count = sys.argv[1], int(sys.argv[2])
queue = os.path.join(state, "queue")
os.makedirs(queue, exist_ok=True)
for name in os.listdir(queue):
    if name.endswith(".json"):
        os.remove(os.path.join(queue, name))
start = time.time_ns()
for i in range(count):
    # Ids sort by time of measurement, like the agent's: <20-digit ns>-<pid>-<n>.
    rid = f"{start + i:020d}-{os.getpid()}-{i}"
    result = {
        "id": rid,
        "target": "mail.lastlog.de-sometest",
        "host": "mail.lastlog.de",
        "name": "sometest",
        "state": i % 4,
        "output": f"queued result {i}",
        "perfdata": f"n={i}",
        "measured_at_ms": (start + i) // 1_000_000,
        "duration_ms": None,
    }
    with open(os.path.join(queue, rid + ".json"), "w", encoding="utf-8") as f:
        # Compact, like serde_json::to_vec.
        json.dump(result, f, ensure_ascii=False, separators=(",", ":"))
