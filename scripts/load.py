"""Load test: N concurrent gradio_client users calling /compare for T seconds, on loopback only.

    .venv/bin/python scripts/load.py --clients 32 --seconds 60            # starts its own server
    .venv/bin/python scripts/load.py --clients 32 --seconds 60 --retrain  # ...with a retraining running
    .venv/bin/python scripts/load.py --clients 2 --warmup 300 --calls 3000 --seconds 900  # memory

Without --url it starts `python app.py` on a free loopback port (demo.measure.launch.served_app) and
stops it afterwards, and reports the server's resident memory before, during (every
--rss-every s) and after, and the CPU it spent per call. Bounded: at most --calls requests and
--seconds seconds. Prints a table and one JSON line; exits 1 if any call failed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # demo.measure.launch: the app launcher and client shared with the other measurements

from demo.measure.launch import cpu_s, digit_files, loopback_client, rss_mb, served_app  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/load.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=None, help="a running server on loopback (default: start one)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--calls", type=int, default=100_000, help="stop after this many requests in all")
    p.add_argument("--warmup", type=int, default=None,
                   help="calls before measuring, spread over the users (default: one each); "
                        "memory 'before' is taken after them")
    p.add_argument("--think", type=float, default=0.0,
                   help="seconds each user waits between calls (0: back to back, the harshest)")
    p.add_argument("--rss-every", type=float, default=10.0,
                   help="seconds between samples of the server's memory (its own server only)")
    p.add_argument("--retrain", action="store_true",
                   help="start a retraining (api /retrain) first and keep it running during the load")
    return p.parse_args(argv)


def run_load(a: argparse.Namespace, url: str, proc: subprocess.Popen | None) -> dict:
    """The load itself against `url` (`proc`: the server, when this script started it)."""
    from gradio_client import handle_file

    files = digit_files(Path(tempfile.mkdtemp(prefix="siamese-load-")))

    latencies, errors, lock = [], [], threading.Lock()
    budget = [a.calls]
    deadline = [float("inf")]  # set when the measured load starts
    ready = threading.Barrier(a.clients + 1)  # every user connected and warmed up
    go = threading.Event()

    def call(client, i: int):
        fa, fb = files[i % 4], files[(i * 3 + 1) % 4]
        out = client.predict(handle_file(fa), handle_file(fb), api_name="/compare")
        assert "distance" in out, out

    def user(k: int):
        client = None
        try:
            client = loopback_client(url)
            # The warm-up runs as concurrently as the load, so the server's worker threads (and
            # their memory) exist before the 'before' figure is taken.
            for i in range(k, a.warmup, a.clients):
                call(client, i)
        except Exception as e:  # noqa: BLE001 - a failed connection is an error to count
            with lock:
                errors.append(f"warm-up: {type(e).__name__}: {str(e)[:120]}")
        ready.wait()
        go.wait()
        i = k
        while client is not None and time.perf_counter() < deadline[0]:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            t = time.perf_counter()
            try:
                call(client, i)
                with lock:
                    latencies.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:120]}")
            i += 1
            if a.think:
                time.sleep(min(a.think, max(deadline[0] - time.perf_counter(), 0)))

    threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(a.clients)]
    for t in threads:
        t.start()
    ready.wait()
    rss_before = rss_mb(proc.pid) if proc else None
    trainer_job = None
    if a.retrain:
        trainer_job = loopback_client(url).submit(api_name="/retrain_api", seconds=max(a.seconds + 30, 60))
        # The load starts once the run trains (its process started, MNIST loaded, a first update).
        waited = time.perf_counter()
        while not trainer_job.outputs() and not trainer_job.done() and time.perf_counter() - waited < 120:
            time.sleep(0.1)

    rss_trace = []  # (calls so far, server MB) every --rss-every seconds: growth or a plateau?

    def watch_memory():
        while any(t.is_alive() for t in threads):
            time.sleep(a.rss_every)
            rss_trace.append((len(latencies), round(rss_mb(proc.pid) or 0, 1)))

    t0, client_cpu0 = time.perf_counter(), time.process_time()
    server_cpu0 = cpu_s(proc.pid) if proc else None
    deadline[0] = t0 + a.seconds
    go.set()
    if proc:
        threading.Thread(target=watch_memory, daemon=True).start()
    for t in threads:
        t.join(a.seconds + 120)
    wall = time.perf_counter() - t0
    client_cpu = time.process_time() - client_cpu0
    server_cpu = cpu_s(proc.pid) - server_cpu0 if proc and server_cpu0 is not None else None
    retrain = None
    if trainer_job is not None:
        done = trainer_job.outputs()  # (progress dict, checkpoint file) pairs streamed so far
        if done:
            last = done[-1][0]
            probed = [u[0] for u in done if u[0]["test_pair_accuracy"] is not None]
            retrain = {k: last[k] for k in ("step", "elapsed_s", "pairs_per_s", "pid", "device")}
            retrain["test_pair_accuracy"] = probed[-1]["test_pair_accuracy"] if probed else None
            retrain["probed_at_s"] = probed[-1]["elapsed_s"] if probed else None
        trainer_job.cancel()
    rss_after = rss_mb(proc.pid) if proc else None

    n = len(latencies)
    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {
        "clients": a.clients, "seconds": round(wall, 1), "calls": n, "errors": len(errors),
        "throughput_per_s": round(n / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1), "retraining": a.retrain, "think_s": a.think,
        "rss_before_mb": None if rss_before is None else round(rss_before, 1),
        "rss_after_mb": None if rss_after is None else round(rss_after, 1),
        "rss_trace": rss_trace,
        # Where the two cores went, per call: the server (with the retrain, when there is one)
        # and this load generator (gradio_client: upload, join, event stream).
        "server_cpu_ms_per_call": round(server_cpu * 1000 / n, 1) if server_cpu is not None and n else None,
        "client_cpu_ms_per_call": round(client_cpu * 1000 / n, 1) if n else None,
        "retrain_progress": retrain,  # the retrain's last progress event: how far it got meanwhile
        "first_errors": errors[:5],
    }


def main(argv=None) -> int:
    a = parse_args(argv)
    a.warmup = a.clients if a.warmup is None else a.warmup
    # served_app stops its server (and so any retrain) whatever happens.
    server = contextlib.nullcontext((None, a.url, None)) if a.url else served_app(timeout=90)
    with server as (proc, url, _):
        host = url.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            raise SystemExit("load tests run against loopback addresses only")
        res = run_load(a, url, proc)
    print(f"| clients | think s | calls | errors | req/s | p50 ms | p95 ms | max ms | RSS before -> after MB |\n"
          f"| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
          f"| {a.clients}{' + retrain' if a.retrain else ''} | {a.think:g} | {res['calls']} | {res['errors']} | "
          f"{res['throughput_per_s']} | {res['p50_ms']} | {res['p95_ms']} | {res['max_ms']} | "
          f"{res['rss_before_mb']} -> {res['rss_after_mb']} |")
    print(json.dumps(res))
    return 0 if not res["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
