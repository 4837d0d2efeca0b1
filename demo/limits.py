"""Server-side limits, each settable by an environment variable (documented in the README).

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
# Compare requests served at once (model calls are a few ms; more threads only contend).
CONCURRENCY = _env_int("SIAMESE_CONCURRENCY", 4)
# The longest training run ($SIAMESE_MAX_TRAIN_SECONDS) is read at each run by
# demo.training.max_train_seconds, so it can change without a restart.
