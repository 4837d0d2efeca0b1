"""Retraining on a served page, measured through gradio_client on loopback:

    .venv/bin/python -m demo.measure.retrain                 # 30 s retrain, 150 compares idle and during
    .venv/bin/python -m demo.measure.retrain --seconds 10 --json

1. a from-scratch retrain (blog loss, default lr) through /retrain_api with nothing else going
   on: its curve (seconds, probe test pair accuracy), final probe accuracy, steps, pairs/s, and
   the returned checkpoint's accuracy on all 20,000 fixed test pairs (what the page gets);
2. /compare latency (p50, p95) with nothing else running: sequential calls from one client;
3. the same while a second such retrain runs (its figures too: the calls cost it CPU);
4. cancel latency: a run cancelled after its first update, to the moment the machine takes
   the next run (its first update).

Starts `python app.py` on a free loopback port and stops it afterwards. Numbers depend on what
else the machine does: note the load average printed with them.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

from ..examples import example_pairs
from .launch import loopback_client, print_report, served_app


def _percentiles(times: list[float]) -> dict:
    ms = np.array(times) * 1000
    return {"calls": len(times), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "max_ms": round(float(ms.max()), 1)}


def _compare_loop(client, pairs, stop: threading.Event, calls: int, gap: float) -> list[float]:
    times = []
    for i in range(calls):
        if stop.is_set():
            break
        t = time.perf_counter()
        client.predict(*pairs[i % 2], api_name="/compare")
        times.append(time.perf_counter() - t)
        time.sleep(gap)
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure.retrain", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="length of the measured retrain (default 30)")
    p.add_argument("--calls", type=int, default=150, help="/compare calls idle (and at most during the run)")
    p.add_argument("--gap", type=float, default=0.1, help="pause between /compare calls, seconds")
    p.add_argument("--data-dir", default=None, help="MNIST root for the final 20,000-pair evaluation")
    p.add_argument("--timeout", type=float, default=120, help="seconds allowed for start-up")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    args = p.parse_args(argv)

    from gradio_client import handle_file

    out: dict = {"cpus": os.cpu_count(), "retrain_seconds": args.seconds}
    with served_app(timeout=args.timeout) as (_, url, _log):
        client, trainer = loopback_client(url), loopback_client(url)
        pairs = [[handle_file(f) for f in pair] for pair in example_pairs()[:2]]
        for i in range(5):
            client.predict(*pairs[i % 2], api_name="/compare")
        time.sleep(3)  # let the start-up reference build finish
        out["load_average_start"] = round(os.getloadavg()[0], 2)
        job = trainer.submit(loss="bce", seconds=args.seconds, lr=2e-3, init="scratch", api_name="/retrain_api")
        out["retrain_alone"] = _summary(job, *job.result(), args.data_dir)

        out["compare_idle"] = _percentiles(_compare_loop(client, pairs, threading.Event(), args.calls, args.gap))
        job = trainer.submit(loss="bce", seconds=args.seconds, lr=2e-3, init="scratch", api_name="/retrain_api")
        while not job.outputs():  # the run has started
            time.sleep(0.05)
        stop = threading.Event()
        box: dict = {}
        worker = threading.Thread(target=lambda: box.update(
            times=_compare_loop(client, pairs, stop, 100_000, args.gap)), daemon=True)
        worker.start()
        final, path = job.result()
        stop.set()
        worker.join(30)
        out["compare_during_training"] = _percentiles(box["times"])
        out["retrain_beside_compare"] = _summary(job, final, path, args.data_dir, curve=False)
        out["load_average_end"] = round(os.getloadavg()[0], 2)

        # cancel: the time from cancelling a run to the next run's first update
        job = trainer.submit(loss="bce", seconds=60, api_name="/retrain_api")
        while not job.outputs():
            time.sleep(0.05)
        t0 = time.perf_counter()
        job.cancel()
        nxt = client.submit(loss="bce", seconds=2, api_name="/retrain_api")
        while not nxt.outputs():
            time.sleep(0.02)
        out["cancel_to_next_run_first_update_s"] = round(time.perf_counter() - t0, 2)
        nxt.result()
    print_report(out, args.json)
    return 0


def _summary(job, final: dict, path: str, data_dir, curve: bool = True) -> dict:
    out = {"steps": final["step"], "epochs": final["epoch"], "elapsed_s": final["elapsed_s"],
           "pid": final["pid"], "device": final["device"],
           "pairs_per_s": round(2 * final["batch_size"] * final["step"] / max(final["elapsed_s"], 1e-9)),
           "probe_test_pair_accuracy": final["test_pair_accuracy"],
           "fixed_test_pairs_accuracy": _full_accuracy(path, data_dir)}
    if curve:
        out["curve"] = [(u[0]["elapsed_s"], u[0]["test_pair_accuracy"]) for u in job.outputs()
                        if u[0]["test_pair_accuracy"] is not None]  # updates that ran the probe
    return out


def _full_accuracy(path: str, data_dir) -> float | None:
    """The checkpoint's pair accuracy on the 20,000 fixed MNIST test pairs (its own threshold)."""
    try:
        from siamese.checkpoint import load_checkpoint
        from siamese.data import load_mnist
        from siamese.evaluate import evaluate

        model, ckpt = load_checkpoint(path)
        return round(evaluate(model, load_mnist(data_dir, "cpu", download=False), knn=False,
                              threshold=ckpt["threshold"])["pair_accuracy"], 4)
    except Exception as e:  # noqa: BLE001 - a measurement, not a test
        print(f"could not evaluate {path}: {e}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
