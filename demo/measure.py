"""Start-up time of `python app.py` and /compare latency through gradio_client, loopback only.

    .venv/bin/python -m demo.measure                  # 100 calls, starts and stops its own server
    .venv/bin/python -m demo.measure --calls 300 --json

Start-up: from launching the process to (1) the first 200 on "/", (2) the first /compare answer,
(3) the MNIST reference (neighbours, distributions) being ready, read from the server's log.
Latency: sequential /compare calls with two small PNG digits after a few warm-up calls.
Bounded: one server process, at most --calls calls, --timeout seconds for start-up.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import numpy as np

from .examples import example_pairs

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_page(url: str, proc: subprocess.Popen, deadline: float) -> None:
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("the page was not served in time")


def loopback_client(url: str):
    """A gradio_client Client for our own server on loopback. ssl_verify=False: plain http, so
    there is nothing to verify, and gradio_client builds a fresh httpx client for every upload,
    join and event stream: with verification on, each loads the CA bundle (~20 ms of CPU, ~80 ms
    a call), and a measurement on this 2-core machine would time the client, not the server."""
    from gradio_client import Client

    return Client(url, verbose=False, ssl_verify=False)


def print_report(out: dict, as_json: bool) -> None:
    """One JSON object, or one aligned `name: value` line per measure."""
    if as_json:
        print(json.dumps(out))
        return
    width = max(map(len, out), default=0)
    for k, v in out.items():
        print(f"{k:>{width}}: {v}")


@contextlib.contextmanager
def served_app(*args: str, env: dict | None = None, timeout: float = 120):
    """`python app.py --no-download ARGS` on a free loopback port, its output in a temp log
    file. Yields (proc, url, log path) once the page is served (SystemExit with the log's tail
    if it is not within `timeout` s); stops the server and removes the log afterwards."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", **(env or {}))
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "app.py", "--no-download", *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url, path = f"http://127.0.0.1:{port}/", Path(log.name)
    try:
        try:
            wait_for_page(url, proc, time.perf_counter() + timeout)
        except SystemExit as e:
            raise SystemExit(f"{e}\n{path.read_text()[-2000:]}") from None
        yield proc, url, path
    finally:
        proc.terminate()
        proc.wait(15)
        path.unlink(missing_ok=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure", description=__doc__.splitlines()[0])
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
