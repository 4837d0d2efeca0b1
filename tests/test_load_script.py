"""scripts/load.py as docs/measurements.md runs it: it starts its own server, puts concurrent
gradio_client users and a retrain on it, reports, and refuses anything but loopback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.app, pytest.mark.process]  # scripts/load.py in its own process


def run_load(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/load.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, **(env or {})))


def test_load_with_a_retrain_reports_every_figure(data_root):
    r = run_load("--clients", "4", "--seconds", "6", "--warmup", "2", "--retrain",
                 env={"SIAMESE_DATA_DIR": str(data_root)})
    assert r.returncode == 0, r.stdout + r.stderr
    table, res = r.stdout.splitlines()[:-1], json.loads(r.stdout.splitlines()[-1])
    assert any(line.startswith("| 4 + retrain |") for line in table)
    assert res["errors"] == 0 and res["calls"] >= 4, res
    assert 0 < res["p50_ms"] <= res["p95_ms"] <= res["max_ms"]
    assert res["rss_before_mb"] > 0 and res["rss_after_mb"] > 0
    assert res["server_cpu_ms_per_call"] > 0 and res["client_cpu_ms_per_call"] > 0
    # The retrain really ran beside the load (steps taken, accuracy measured on its probe).
    assert res["retrain_progress"]["step"] > 0
    assert 0 <= res["retrain_progress"]["test_pair_accuracy"] <= 1


def test_refuses_a_server_that_is_not_on_loopback():
    r = run_load("--url", "http://192.0.2.1:7860/", "--seconds", "1", timeout=30)
    assert r.returncode != 0
    assert "loopback" in r.stderr
