"""Server-side limits, each settable by an environment variable (documented in docs/hosting.md).

A client cannot raise any of them: the page and the API clamp what they are asked for.
"""
from __future__ import annotations

import os


def _env_int(name: str, default: int, lo: int = 1) -> int:
    try:
        return max(lo, int(os.environ.get(name, default)))
    except ValueError:
        return default


# Upload size cap in megabytes (Gradio refuses larger uploads before they reach a handler).
MAX_UPLOAD_MB = _env_int("SIAMESE_MAX_UPLOAD_MB", 20)
# Requests waiting in the queue; one more gets "queue full" instead of waiting forever.
QUEUE_SIZE = _env_int("SIAMESE_QUEUE_SIZE", 256)
# Requests of each page event served at once. The model call is a few ms and Gradio's own work
# per request runs under the GIL, so this is about overlapping waits, not cores: 32 clients with
# a retrain running (scripts/load.py) gave p95 0.82 s at 4, 0.70 s at 8, 0.71 s at 16.
CONCURRENCY = _env_int("SIAMESE_CONCURRENCY", 8)
# Files Gradio keeps for the page (uploads, drawings, result images) are deleted this many
# seconds after they were made, checked every quarter of that: a public page receives files all
# day, and its disk must not fill. The example digits are kept.
CACHE_SECONDS = _env_int("SIAMESE_CACHE_SECONDS", 7200)
# The retraining process's CPU priority below the server's (Linux nice, 0-19). 10: serving comes
# first, and a retrain beside 32 back-to-back clients gets the crumbs; 0: they share the cores
# evenly, the retrain learns faster and each comparison waits longer (figures in docs/measurements.md).
TRAIN_NICE = min(19, _env_int("SIAMESE_TRAIN_NICE", 10, lo=0))
# The longest training run ($SIAMESE_MAX_TRAIN_SECONDS) is read at each run by
# demo.retrain.slot.max_train_seconds, so it can change without a restart.

# Classes (demo.classroom): how long a class and its model last, how many at once, how many
# screens may follow one. A class holds a model (9 MB of weights, 20 MB more once a tab has
# embedded the test set with it) and its run's curves; a watcher, a sleeping coroutine.
CLASS_HOURS = float(os.environ.get("SIAMESE_CLASS_HOURS", "3") or 3)
MAX_CLASSES = _env_int("SIAMESE_MAX_CLASSES", 20)
CLASS_WATCHERS = _env_int("SIAMESE_CLASS_WATCHERS", 200)
# Jobs Gradio runs at once over every event (launch's max_threads: its default, 40, also caps
# the jobs in progress). A screen following a class holds one for the whole run, so 40 watchers
# filled it: comparisons waited behind them and one screen was never served (demo.measure.
# classroom: 33 compares a minute, p95 3.6 s, server idle). Room for every screen of every class
# plus the page's own events; a watcher is a coroutine, so its slot costs no thread.
JOB_SLOTS = MAX_CLASSES * CLASS_WATCHERS + 64
