"""Load test: N concurrent gradio_client users calling /compare for T seconds, on loopback only.

    .venv/bin/python scripts/load.py --clients 32 --seconds 60            # starts its own server
    .venv/bin/python scripts/load.py --clients 32 --seconds 60 --retrain  # ...with a retraining running
    .venv/bin/python scripts/load.py --calls 1000 --clients 1             # memory over 1,000 calls

Without --url it starts `python app.py` on a free loopback port and stops it afterwards, and
reports the server's resident memory before and after. Bounded: at most --calls requests and
--seconds seconds. Prints a table and one JSON line.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def digit_files(folder: Path) -> list[Path]:
    """A few drawn digits (never MNIST files) to send."""
    shapes = {
        "seven": [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)],
        "one": [(0.5, 0.1), (0.5, 0.9)],
        "four": [(0.6, 0.9), (0.6, 0.1), (0.15, 0.6), (0.85, 0.6)],
        "zero": [(0.5, 0.1), (0.8, 0.3), (0.8, 0.7), (0.5, 0.9), (0.2, 0.7), (0.2, 0.3), (0.5, 0.1)],
    }
    paths = []
    for name, pts in shapes.items():
        img = Image.new("L", (280, 280), 255)
        ImageDraw.Draw(img).line([(x * 280, y * 280) for x, y in pts], fill=0, width=24, joint="curve")
        p = folder / f"{name}.png"
        img.save(p)
        paths.append(p)
    return paths


def rss_mb(pid: int) -> float | None:
    try:
        import psutil

        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
    except Exception:
        return None


def start_server(timeout: float = 90) -> tuple[subprocess.Popen, str]:
    """`python app.py` on a free loopback port (demo.measure.launch_app), once its page is up."""
    sys.path.insert(0, str(ROOT))
    from demo.measure import launch_app, wait_for_page

    proc, url, _ = launch_app()
    wait_for_page(url, proc, time.perf_counter() + timeout)
    return proc, url


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="scripts/load.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=None, help="a running server on loopback (default: start one)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--calls", type=int, default=100_000, help="stop after this many requests in all")
    p.add_argument("--warmup", type=int, default=5,
                   help="calls before measuring (memory 'before' is taken after them)")
    p.add_argument("--think", type=float, default=0.0,
                   help="seconds each user waits between calls (0: back to back, the harshest)")
    p.add_argument("--retrain", action="store_true",
                   help="start a retraining (api /retrain) first and keep it running during the load")
    a = p.parse_args(argv)
    from gradio_client import Client, handle_file

    proc = None
    url = a.url
    if url is None:
        proc, url = start_server()
    host = url.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise SystemExit("load tests run against loopback addresses only")

    tmp = Path(tempfile.mkdtemp(prefix="siamese-load-"))
    files = digit_files(tmp)
    warm = Client(url, verbose=False)
    for i in range(a.warmup):
        warm.predict(handle_file(files[i % 4]), handle_file(files[(i + 1) % 4]), api_name="/compare")
    rss_before = rss_mb(proc.pid) if proc else None

    trainer_job = None
    if a.retrain:
        trainer_client = Client(url, verbose=False)
        trainer_job = trainer_client.submit(api_name="/retrain_api", seconds=max(a.seconds + 30, 60))
        time.sleep(3)

    latencies, errors, lock = [], [], threading.Lock()
    budget = [a.calls]
    deadline = time.perf_counter() + a.seconds

    def user(k: int):
        try:
            client = Client(url, verbose=False)
        except Exception as e:  # noqa: BLE001 - a failed connection is an error to count
            with lock:
                errors.append(f"connect: {e}")
            return
        i = k
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            fa, fb = files[i % 4], files[(i * 3 + 1) % 4]
            i += 1
            t = time.perf_counter()
            try:
                out = client.predict(handle_file(fa), handle_file(fb), api_name="/compare")
                assert "distance" in out, out
                with lock:
                    latencies.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:120]}")
            if a.think:
                time.sleep(min(a.think, max(deadline - time.perf_counter(), 0)))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.seconds + 120)
    wall = time.perf_counter() - t0
    if trainer_job is not None:
        trainer_job.cancel()
    rss_after = rss_mb(proc.pid) if proc else None
    if proc:
        proc.terminate()
        proc.wait(15)

    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    res = {
        "clients": a.clients, "seconds": round(wall, 1), "calls": len(latencies), "errors": len(errors),
        "throughput_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1), "retraining": a.retrain, "think_s": a.think,
        "rss_before_mb": None if rss_before is None else round(rss_before, 1),
        "rss_after_mb": None if rss_after is None else round(rss_after, 1),
        "first_errors": errors[:5],
    }
    print(f"| clients | think s | calls | errors | req/s | p50 ms | p95 ms | max ms | RSS before -> after MB |\n"
          f"| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
          f"| {a.clients}{' + retrain' if a.retrain else ''} | {a.think:g} | {res['calls']} | {res['errors']} | "
          f"{res['throughput_per_s']} | {res['p50_ms']} | {res['p95_ms']} | {res['max_ms']} | "
          f"{res['rss_before_mb']} -> {res['rss_after_mb']} |")
    print(json.dumps(res))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
