"""How every measurement (and the app tests) starts the page and talks to it: `served_app` runs
`python app.py` on a free loopback port, `loopback_client` connects gradio_client to it,
`rss_mb` / `cpu_s` read what the server costs, `digit_files` draws digits to send."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]


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


def rss_mb(pid: int, children: bool = True) -> float | None:
    """Resident memory of process `pid` (and, by default, its children: the training fork
    server and runs), MB; None without psutil."""
    try:
        import psutil

        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)] if children else [proc]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except Exception:
        return None


def cpu_s(pid: int, children: bool = True) -> float | None:
    """CPU seconds (user + system) used so far by process `pid` (and its children)."""
    try:
        import psutil

        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True) if children else []
        return sum(t.user + t.system for t in (p.cpu_times() for p in procs))
    except Exception:
        return None


def wait_until_idle(proc, log: Path, timeout: float = 180, busy: float = 0.1) -> float:
    """Wait until a just-started app.py is done starting: its MNIST reference built (its log
    says so) and the server and its children using under `busy` of a core over a second, as a
    server that was up before the class would be. Returns the seconds waited."""
    t0 = time.perf_counter()
    while "reference for" not in log.read_text() and time.perf_counter() - t0 < timeout:
        time.sleep(0.25)
    while time.perf_counter() - t0 < timeout:
        before = cpu_s(proc.pid)
        time.sleep(1.0)
        after = cpu_s(proc.pid)
        if before is None or after is None or after - before < busy:
            break
    return time.perf_counter() - t0
