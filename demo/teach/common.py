"""What the teaching tabs show alike: their stylesheet and the card shown while a model's
test-set reference is loading (or cannot be had)."""
from __future__ import annotations

import html
from pathlib import Path

from siamese.checkpoint import excluded_digits

from ..models import Models

CSS_PATH = Path(__file__).resolve().parents[1] / "assets" / "teach.css"


def unseen_of(model) -> tuple[int, ...]:
    """The digits a model (a Reference's, or a Comparator) was trained without; () for one that
    saw all ten, such as the pretrained model."""
    return excluded_digits(getattr(model, "comparator", model).checkpoint)


def teach_head() -> str:
    """The stylesheet, for the `head` of one gr.HTML per tab (tabs render lazily, and the
    first one a learner opens must have it)."""
    return f'<style data-teach-css="1">{CSS_PATH.read_text()}</style>'


def status_html(status: str, models: Models, what: str) -> str:
    """The card shown while the model's Reference is loading, or when it cannot be had."""
    if status == "loading" and models.data_step not in (None, "embedding"):  # MNIST itself is on its way
        text = f"\u23f3 {models.loading_text()} for {what}\u2026"
        kind = "loading"
    elif status == "loading":
        text = (f"\u23f3 Embedding the MNIST test digits with this model for {what}\u2026 "
                f"(a few seconds, once per model)")
        kind = "loading"
    elif status == "gone":  # for a moment: the page is switching to the pretrained model
        text = "\u2139\ufe0f This model has left the server; switching to the pretrained model\u2026"
        kind = "loading"
    else:
        why = models.data_error or "its test-set reference could not be built"
        text = f"\u2139\ufe0f {what[0].upper()}{what[1:]} needs the MNIST test set, which is not available here ({why})."
        kind = "unavailable"
    return f'<div class="teach-note {kind}" data-state="{kind}">{html.escape(text)}</div>'
