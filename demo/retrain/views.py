"""Training progress -> what the Retrain tab (and a class following a run) shows: pandas frames
for the curves and the embedding map from a run's RunRecord, and small HTML cards. Pure
functions of numbers."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from siamese.job import JobUpdate

from ..views import DIGIT_COLOURS as PALETTE
from ..views import PAIR_COLOUR, UNSEEN_COLOUR, digits_text, fmt, unseen_label
from .record import RunRecord
from .slot import EVAL_SIZE, RECIPES

# The scatter plot's color_map: a digit's colour, whether the run saw it ("7") or not ("7 (never seen)").
DIGIT_COLOURS = {**{str(d): c for d, c in enumerate(PALETTE)}, **{unseen_label(d): c for d, c in enumerate(PALETTE)}}
PROGRESS_IDLE = '<div class="rt-progress-idle">The progress bar shows here while a model trains.</div>'
LOSS_NAMES = {k: r.label for k, r in RECIPES.items()}
# The accuracy curve's series: one line, or with digits hidden from training, pairs of seen
# digits and pairs of never-seen digits apart (the probe's same threshold for both).
ALL_PAIRS, SEEN_PAIRS, UNSEEN_PAIRS = "test pairs", "seen digits", "never-seen digits"
ACC_COLOURS = {ALL_PAIRS: PAIR_COLOUR, SEEN_PAIRS: PAIR_COLOUR, UNSEEN_PAIRS: UNSEEN_COLOUR}
INIT_NAMES = {"scratch": "random weights", "shipped": "the pretrained model", "current": "your current model"}


def empty_curve(y: str) -> pd.DataFrame:
    return pd.DataFrame({"seconds": pd.Series(dtype=float), y: pd.Series(dtype=float)})


def empty_map() -> pd.DataFrame:
    return pd.DataFrame({"x": pd.Series(dtype=float), "y": pd.Series(dtype=float),
                         "digit": pd.Series(dtype=str)})


def empty_accuracy() -> pd.DataFrame:
    return pd.DataFrame({"seconds": pd.Series(dtype=float), "accuracy": pd.Series(dtype=float),
                         "pairs": pd.Series(dtype=str)})


def curve_frames(record: RunRecord) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(loss, probe pair accuracy) against training seconds, one row per update with a step
    (accuracy only where the update ran the probe). The accuracy frame is long (seconds,
    accuracy, pairs): one series, ALL_PAIRS, or with digits hidden SEEN_PAIRS and UNSEEN_PAIRS.
    It is None until every series has a point: Gradio's plot takes its colour domain from the
    first data it draws, and a series missing then never gets a colour (so show the plot None
    first, then this frame)."""
    with record.lock:
        loss = pd.DataFrame({"seconds": record.seconds, "loss": record.loss})
        if record.exclude_digits:
            series = {SEEN_PAIRS: list(record.seen_accuracy), UNSEEN_PAIRS: list(record.unseen_accuracy)}
        else:
            series = {ALL_PAIRS: list(record.accuracy)}
        seconds = list(record.seconds)
    acc = pd.concat([pd.DataFrame({"seconds": seconds, "accuracy": ys, "pairs": name}) for name, ys in series.items()],
                    ignore_index=True).dropna()
    return loss, acc if set(acc["pairs"]) == set(series) else None


def accuracy_plot(exclude_digits=()) -> dict:
    """The accuracy plot's title, legend and y range for a run hiding `exclude_digits` (none: one
    line, no legend), as keyword arguments of gr.LinePlot. Never-seen digits may score below
    chance (0.5) early on: the range goes lower for them."""
    if not exclude_digits:
        return {"title": f"Test pair accuracy ({2 * EVAL_SIZE:,}-pair probe)", "colors_in_legend": [],
                "y_lim": [0.5, 1.0]}
    return {"title": f"Pair accuracy: seen digits vs never-seen {digits_text(exclude_digits)}",
            "colors_in_legend": [SEEN_PAIRS, UNSEEN_PAIRS], "y_lim": [0.3, 1.0]}


def map_frame(xy: np.ndarray, labels: np.ndarray, unseen=()) -> pd.DataFrame:
    """A job's live map ((N, 2) in [-MAP_LIMIT, MAP_LIMIT], (N,) labels) -> columns x, y and
    digit, sorted by digit (the legend lists digits in the order they first appear). Digits in
    `unseen` (hidden from training) are named "7 (never seen)" in the legend and tooltip."""
    digits = np.asarray(labels).astype(int)
    order = np.argsort(digits, kind="stable")
    hidden = {int(d) for d in unseen}
    return pd.DataFrame({"x": xy[order, 0].round(3), "y": xy[order, 1].round(3),
                         "digit": [unseen_label(v) if v in hidden else str(v) for v in digits[order].tolist()]})


def _cell(value: str, label: str, cls: str = "") -> str:
    # never-seen digits' figures in their colour, the accuracy curve's
    style = f' style="color:{UNSEEN_COLOUR}"' if "unseen" in cls.split() else ""
    return f'<div class="rt-stat {cls}"><b{style}>{value}</b><span>{label}</span></div>'


def _pct(x: float | None) -> str:
    return "\u2013" if x is None else f"{x * 100:.1f}%"


def stats_html(ev: JobUpdate | None, seconds: float, running: bool = True, accuracy: float | None = None,
               split: tuple[float | None, float | None] | None = None) -> str:
    """The numbers under the controls: elapsed, steps, pairs/s, loss, accuracy (`accuracy`:
    the latest probe's, for an update that skipped it). split: for a run hiding digits, the
    latest (seen, unseen) pair accuracies, shown instead of the overall one (`split_of(record)`)."""
    acc_cells = ([("seen-digit pairs", "acc seen"), ("never-seen pairs", "acc unseen")] if split is not None
                 else [("test pair accuracy", "acc")])
    if ev is None:
        cells = [_cell("\u2013", "elapsed"), _cell("\u2013", "steps"), _cell("\u2013", "pairs / s"),
                 _cell("\u2013", "loss")] + [_cell("\u2013", label, cls) for label, cls in acc_cells]
    else:
        if split is not None:
            values = [split[0] if ev.seen_pair_accuracy is None else ev.seen_pair_accuracy,
                      split[1] if ev.unseen_pair_accuracy is None else ev.unseen_pair_accuracy]
        else:
            values = [ev.test_pair_accuracy if ev.test_pair_accuracy is not None else accuracy]
        cells = [
            _cell(f"{ev.elapsed:.0f} s <small>/ {seconds:.0f}</small>", "elapsed"),
            _cell(f"{ev.step:,}", f"steps \u00b7 epoch {ev.epoch:.1f}"),
            _cell(f"{ev.pairs_per_s:,.0f}", "pairs / s"),
            _cell(fmt(ev.loss) if ev.step else "\u2013", "loss"),
        ] + [_cell(_pct(v), label, cls) for v, (label, cls) in zip(values, acc_cells)]
    state = "running" if running else "idle"
    return f'<div class="rt-stats" data-state="{state}" data-step="{ev.step if ev else 0}">{"".join(cells)}</div>'


def split_of(record: RunRecord) -> tuple[float | None, float | None] | None:
    """A run's latest (seen, unseen) probe accuracies, or None when it hides no digit."""
    return (record.last_seen, record.last_unseen) if record.exclude_digits else None


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
        "exclude_digits": list(run_cfg.get("exclude_digits") or ()),
    }


def describe(s: dict) -> str:
    """'cross-entropy, from random weights, 30 s (1,532 steps)' for a summary."""
    how = "stopped after" if s.get("stopped") else "trained"
    hidden = s.get("exclude_digits")
    without = f", trained without {digits_text(hidden)}" if hidden else ""
    return (f"{LOSS_NAMES.get(s.get('loss'), s.get('loss'))} loss, from {INIT_NAMES.get(s.get('init'), s.get('init'))}, "
            f"{how} {s.get('seconds', 0):.0f} s ({s.get('steps', 0):,} steps, lr {s.get('lr', 0):g}){without}")


def model_card_html(s: dict | None, in_use: bool) -> str:
    """The Retrain tab's card about this session's retrained model (or the lack of one)."""
    if s is None:
        return ('<div class="rt-model none" data-model="shipped">Compare uses the <b>pretrained model</b>. '
                'Train one here and it becomes yours, for this browser tab only.</div>')
    acc = s.get("probe_test_pair_accuracy")
    acc = "" if acc is None else (f" Test pair accuracy on the {s.get('probe_pairs', 0):,}-pair probe: "
                                  f"<b>{acc * 100:.1f}%</b>.")
    hidden = s.get("exclude_digits")
    if hidden:
        acc += (f' <span class="rt-unseen">It never saw {html.escape(digits_text(hidden))} while training: the '
                f'Embedding space and One-shot tabs show how it does on them.</span>')
    if in_use:
        head = "Your retrained model is now used in the Compare tab."
        tail = " Other visitors keep the pretrained model."
    else:
        head = "Compare uses the <b>pretrained model</b> again; your retrained model is kept."
        tail = ""
    return (f'<div class="rt-model {"mine" if in_use else "kept"}" data-model="{"mine" if in_use else "shipped"}">'
            f'<div class="rt-model-head">{head}</div><div>{html.escape(describe(s))}.{acc}{tail}</div></div>')
