"""Training progress -> what the Retrain tab (and a class following a run) shows: pandas frames
for the curves and the embedding map from a run's RunRecord, and small HTML cards. Pure
functions of numbers."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from siamese.job import JobUpdate

from ..views import DIGIT_COLOURS as PALETTE
from ..views import fmt
from .record import RunRecord

DIGIT_COLOURS = {str(d): c for d, c in enumerate(PALETTE)}  # the scatter plot's color_map
PROGRESS_IDLE = '<div class="rt-progress-idle">The progress bar shows here while a model trains.</div>'
LOSS_NAMES = {"bce": "cross-entropy (the blog's)", "contrastive": "contrastive", "triplet": "triplet"}
INIT_NAMES = {"scratch": "random weights", "shipped": "the pretrained model", "current": "your current model"}


def empty_curve(y: str) -> pd.DataFrame:
    return pd.DataFrame({"seconds": pd.Series(dtype=float), y: pd.Series(dtype=float)})


def empty_map() -> pd.DataFrame:
    return pd.DataFrame({"x": pd.Series(dtype=float), "y": pd.Series(dtype=float),
                         "digit": pd.Series(dtype=str)})


def curve_frames(record: RunRecord) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(loss, test pair accuracy) against training seconds, one row per update with a step
    (accuracy only where the update ran the probe)."""
    with record.lock:
        loss = pd.DataFrame({"seconds": record.seconds, "loss": record.loss})
        acc = pd.DataFrame({"seconds": record.seconds, "accuracy": record.accuracy}).dropna()
    return loss, acc


def map_frame(xy: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """A job's live map ((N, 2) in [-MAP_LIMIT, MAP_LIMIT], (N,) labels) -> columns x, y and
    digit, sorted by digit (the legend lists digits in the order they first appear)."""
    digits = np.asarray(labels).astype(int)
    order = np.argsort(digits, kind="stable")
    return pd.DataFrame({"x": xy[order, 0].round(3), "y": xy[order, 1].round(3),
                         "digit": [str(v) for v in digits[order]]})


def _cell(value: str, label: str, cls: str = "") -> str:
    return f'<div class="rt-stat {cls}"><b>{value}</b><span>{label}</span></div>'


def stats_html(ev: JobUpdate | None, seconds: float, running: bool = True, accuracy: float | None = None) -> str:
    """The numbers under the controls: elapsed, steps, pairs/s, loss, accuracy (`accuracy`:
    the latest probe's, for an update that skipped it)."""
    if ev is None:
        cells = [_cell("\u2013", "elapsed"), _cell("\u2013", "steps"), _cell("\u2013", "pairs / s"),
                 _cell("\u2013", "loss"), _cell("\u2013", "test pair accuracy", "acc")]
    else:
        acc = ev.test_pair_accuracy if ev.test_pair_accuracy is not None else accuracy
        acc = "\u2013" if acc is None else f"{acc * 100:.1f}%"
        cells = [
            _cell(f"{ev.elapsed:.0f} s <small>/ {seconds:.0f}</small>", "elapsed"),
            _cell(f"{ev.step:,}", f"steps \u00b7 epoch {ev.epoch:.1f}"),
            _cell(f"{ev.pairs_per_s:,.0f}", "pairs / s"),
            _cell(fmt(ev.loss) if ev.step else "\u2013", "loss"),
            _cell(acc, "test pair accuracy", "acc"),
        ]
    state = "running" if running else "idle"
    return f'<div class="rt-stats" data-state="{state}" data-step="{ev.step if ev else 0}">{"".join(cells)}</div>'


def status_html(text: str, kind: str = "info") -> str:
    """One line over the stats: kind info | running | busy | done | error."""
    return f'<div class="rt-status {kind}" data-kind="{kind}"><span class="rt-dot"></span><span>{text}</span></div>'


def summary(run_cfg: dict, ev: JobUpdate | None, result: dict | None, init: str, stopped: bool) -> dict:
    """What the page says about a finished run (kept with the session's model)."""
    return {
        "loss": run_cfg.get("loss"), "lr": run_cfg.get("lr"), "init": init,
        "seconds": round(ev.elapsed, 1) if ev else 0.0, "planned_seconds": run_cfg.get("max_seconds"),
        "steps": ev.step if ev else 0, "epochs": round(ev.epoch, 2) if ev else 0.0,
        "probe_test_pair_accuracy": ev.test_pair_accuracy if ev else None,
        "probe_pairs": 2 * int(run_cfg.get("eval_size") or 0),  # fixed_pairs: a same and a different pair each
        "val_pair_accuracy": (result or {}).get("val_pair_accuracy"),
        "threshold": (result or {}).get("threshold"), "stopped": stopped,
    }


def describe(s: dict) -> str:
    """'cross-entropy, from random weights, 30 s (1,532 steps)' for a summary."""
    how = "stopped after" if s.get("stopped") else "trained"
    return (f"{LOSS_NAMES.get(s.get('loss'), s.get('loss'))} loss, from {INIT_NAMES.get(s.get('init'), s.get('init'))}, "
            f"{how} {s.get('seconds', 0):.0f} s ({s.get('steps', 0):,} steps, lr {s.get('lr', 0):g})")


def model_card_html(s: dict | None, in_use: bool) -> str:
    """The Retrain tab's card about this session's retrained model (or the lack of one)."""
    if s is None:
        return ('<div class="rt-model none" data-model="shipped">Compare uses the <b>pretrained model</b>. '
                'Train one here and it becomes yours, for this browser tab only.</div>')
    acc = s.get("probe_test_pair_accuracy")
    acc = "" if acc is None else (f" Test pair accuracy on the {s.get('probe_pairs', 0):,}-pair probe: "
                                  f"<b>{acc * 100:.1f}%</b>.")
    if in_use:
        head = "Your retrained model is now used in the Compare tab."
        tail = " Other visitors keep the pretrained model."
    else:
        head = "Compare uses the <b>pretrained model</b> again; your retrained model is kept."
        tail = ""
    return (f'<div class="rt-model {"mine" if in_use else "kept"}" data-model="{"mine" if in_use else "shipped"}">'
            f'<div class="rt-model-head">{head}</div><div>{html.escape(describe(s))}.{acc}{tail}</div></div>')
