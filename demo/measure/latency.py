"""Start-up time of `python app.py` and /compare latency through gradio_client, loopback only.

    .venv/bin/python -m demo.measure.latency                  # 100 calls, starts and stops its own server
    .venv/bin/python -m demo.measure.latency --calls 300 --json

Start-up: from launching the process to (1) the first 200 on "/", (2) the first /compare answer,
(3) the MNIST reference (neighbours, distributions) being ready, read from the server's log.
Latency: sequential /compare calls with two small PNG digits after a few warm-up calls.
Bounded: one server process, at most --calls calls, --timeout seconds for start-up.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import datetime

import numpy as np

from ..examples import example_pairs
from .launch import loopback_client, print_report, served_app


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure.latency", description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100, help="timed /compare calls (default 100)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    p.add_argument("--timeout", type=float, default=120, help="seconds allowed for start-up")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    args = p.parse_args(argv)

    from gradio_client import handle_file

    t0, wall0 = time.perf_counter(), time.time()
    out: dict = {"load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    with served_app(timeout=args.timeout) as (_, url, log):
        out["startup_page_s"] = round(time.perf_counter() - t0, 2)
        client = loopback_client(url)
        pairs = [[handle_file(f) for f in pair] for pair in example_pairs()[:2]]  # 7/7, 7/1
        client.predict(*pairs[0], api_name="/compare")
        out["startup_first_compare_s"] = round(time.perf_counter() - t0, 2)
        while time.perf_counter() < t0 + args.timeout:  # the log line's own timestamp
            m = re.search(r"^(\S+ \S+) demo.models: reference for shipped ready", log.read_text(), re.M)
            if m:
                stamp = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out["startup_reference_ready_s"] = round(stamp - wall0, 2)
                break
            time.sleep(0.1)
        for i in range(args.warmup):
            client.predict(*pairs[i % 2], api_name="/compare")
        times = []
        for i in range(args.calls):
            t = time.perf_counter()
            r = client.predict(*pairs[i % 2], api_name="/compare")
            times.append(time.perf_counter() - t)
            assert r["same"] is (i % 2 == 0), r
        ms = np.array(times) * 1000
        out.update(calls=args.calls, p50_ms=round(float(np.percentile(ms, 50)), 1),
                   p95_ms=round(float(np.percentile(ms, 95)), 1), mean_ms=round(float(ms.mean()), 1),
                   max_ms=round(float(ms.max()), 1))
    print_report(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
