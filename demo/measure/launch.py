"""How every measurement (and the app tests) starts the page and talks to it: `served_app` runs
`python app.py` on a free loopback port, `loopback_client` connects gradio_client to it."""
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
