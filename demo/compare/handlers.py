"""Event handlers of the Compare tab and the /compare API, as plain functions of Gradio values.

They turn inputs into arrays (demo.inputs), call `siamese` (Comparator, Reference) and turn the
results into component values (demo.compare.views). demo.compare.tab wires them into the page;
tests call them directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from siamese import BlankImageError, Comparator, Comparison, ImageError

from ..distance_plot import slider_span, slider_value
from ..examples import example_pairs
from ..inputs import side_image
from ..models import SHIPPED, Models
from ..views import network_view
from . import views

N_NEIGHBOURS = 8


class SideError(ValueError):
    """One side's image cannot be used; the message names the side."""

    def __init__(self, side: str, error: ImageError):
        self.side, self.blank = side, isinstance(error, BlankImageError)
        super().__init__(f"{side}: {_clean(error)}")


def _clean(error: Exception) -> str:
    """The error's message without server temp paths (a file is named by its base name)."""
    msg = str(error)
    for word in msg.split():
        w = word.strip("'\"(),:")
        if w.startswith("/") and len(w) > 1:
            msg = msg.replace(w, Path(w).name)
    return msg


def compare_or_explain(cmp: Comparator, a, b, names=("Digit A", "Digit B")) -> Comparison:
    """Comparator.compare, with a bad image reported as SideError naming which side it was."""
    try:
        return cmp.compare(a, b)
    except ImageError:
        for name, img in zip(names, (a, b)):
            try:
                cmp.preprocess(img)
            except ImageError as e:
                raise SideError(name, e) from None
        raise


@dataclass
class Shown:
    """What the page keeps from the last comparison (in a gr.State) to redraw the verdict,
    plot and neighbours when the threshold moves or the reference arrives."""

    distance: float
    same_probability: float
    image_a: np.ndarray  # (28, 28) float, what the network saw
    image_b: np.ndarray
    guesses: tuple[str, str] | None = None  # majority label of each side's neighbours


def _missing_message(a, b) -> str | None:
    if a is None and b is None:
        return "Draw or upload two digits, one on each side."
    if a is None:
        return "Now draw or upload digit A (left)."
    if b is None:
        return "Now draw or upload digit B (right)."
    return None


def idle_outputs(models: Models, key: str, text: str, threshold: float, kind: str = "hint"):
    """Outputs for 'no comparison to show': a message card and empty panels."""
    status = models.status(key)
    return (views.message_html(text, kind), None, None,
            views.plot_html(threshold, None, models.reference(key), status),
            views.neighbours_html("A", [] if status == "ready" else None, status),
            views.neighbours_html("B", [] if status == "ready" else None, status),
            None)


def shown_outputs(models: Models, key: str, shown: Shown, threshold: float):
    """Outputs for one comparison: verdict, the two network views, plot, neighbours, state."""
    ref = models.reference(key)
    status = "ready" if ref is not None else models.status(key)
    nn_a = nn_b = None
    if ref is not None:
        nn_a, nn_b = ref.nearest(np.stack([shown.image_a, shown.image_b]), k=N_NEIGHBOURS)
        shown.guesses = (str(views.majority(nn_a)[0]), str(views.majority(nn_b)[0]))
    return (views.verdict_html(shown.distance, shown.same_probability, threshold, shown.guesses),
            network_view(shown.image_a), network_view(shown.image_b),
            views.plot_html(threshold, shown.distance, ref, status),
            views.neighbours_html("A", nn_a, status), views.neighbours_html("B", nn_b, status),
            shown)


def compare_sides(models: Models, key: str, sketch_a, upload_a, mode_a, sketch_b, upload_b, mode_b,
                  threshold: float, strict: bool = False):
    """Compare whatever the two sides hold.

    strict (the Compare button): anything missing or unusable raises gr.Error (a toast).
    Otherwise (a stroke, an upload, a tab switch) the verdict card says it instead: a hint for
    a missing or blank side, an error for an unusable file. No toasts there: drawing the first
    digit must not pop up errors, and several queued events would repeat one toast.
    """
    key = key or SHIPPED
    threshold = float(threshold)
    a, b = side_image(sketch_a, upload_a, mode_a), side_image(sketch_b, upload_b, mode_b)
    missing = _missing_message(a, b)
    if missing:
        if strict:
            raise gr.Error(missing, title="Two digits needed")
        return idle_outputs(models, key, missing, threshold)
    try:
        r = compare_or_explain(models.comparator(key), a, b)
    except SideError as e:
        if strict:
            raise gr.Error(str(e), title="Cannot compare") from None
        return idle_outputs(models, key, str(e), threshold, kind="hint" if e.blank else "error")
    return shown_outputs(models, key, Shown(r.distance, r.same_probability, r.image_a, r.image_b), threshold)


def rethreshold(models: Models, key: str, shown: Shown | None, threshold: float):
    """The threshold moved: redraw verdict and plot (no network call)."""
    if shown is None:
        return gr.skip(), views.plot_html(float(threshold), None, models.reference(key), models.status(key))
    return (views.verdict_html(shown.distance, shown.same_probability, float(threshold), shown.guesses),
            views.plot_html(float(threshold), shown.distance, models.reference(key), models.status(key)))


def example_distance_span(cmp: Comparator) -> tuple[float, float]:
    """Smallest and largest distance between any two of the example digits: the model's scale
    for the threshold slider before (or without) the MNIST reference."""
    files = sorted({f for pair in example_pairs() for f in pair})
    emb = cmp.embed(np.stack([cmp.preprocess(f) for f in files]))  # (F, D)
    i, j = np.triu_indices(len(files), 1)
    d = cmp.distance(emb[i], emb[j])
    return float(d.min()), float(d.max())


def compare_api(models: Models):
    """The function behind the /compare endpoint. Gradio describes the endpoint from it (API
    page and, with the MCP server on, the `compare` tool): its name, its argument names and
    its docstring's Args and Returns."""

    def compare(image_a: str, image_b: str) -> dict:
        """Compare two images of handwritten digits with a siamese network and say whether they
        show the same digit (0-9). Photos, scans and drawings of any size work, dark ink on light
        paper or light on dark; one digit per image.

        Args:
            image_a: the first digit image, PNG, JPEG or WebP (over MCP: an http(s) URL or a data URL)
            image_b: the second digit image, the same way
        Returns:
            distance (lower is more alike), same_probability (0 to 1)
            same (true when distance <= threshold), threshold, verdict ("same" or "different"), metric
        """
        return compare_files(models, image_a, image_b)

    return compare


def compare_files(models: Models, file_a, file_b, key: str = SHIPPED) -> dict:
    """The /compare API: two image files -> distance, same_probability, same, threshold, verdict.

    Uses the model's own threshold. Any problem raises gr.Error (gradio_client: AppError)."""
    if not file_a or not file_b:
        raise gr.Error("Send two image files: image_a and image_b.", title="Two images needed")
    cmp = models.comparator(key)
    try:
        r = compare_or_explain(cmp, file_a, file_b, names=("image_a", "image_b"))
    except SideError as e:
        raise gr.Error(str(e), title="Cannot compare") from None
    out = r.to_dict()
    out["verdict"] = views.verdict_text(r.distance, r.same_probability, r.threshold)[0]
    out["metric"] = cmp.model.config.metric
    return out


def switch_model(models: Models, key: str | None, sketch_a, upload_a, mode_a, sketch_b, upload_b, mode_b,
                 shown_key: str | None = None):
    """The session's model changed: the threshold slider becomes the new model's own, the
    comparison on screen is redone with it, and the tab's poll fetches its reference.
    Outputs: slider, the compare_sides outputs, the poll's timer, the key Compare now shows.

    shown_key: the model Compare shows already. The same key (keys are never reused) changes
    nothing: every page load runs this chain (a class link may swap the model), and redoing
    the comparison then raced the user's own events: its inputs, read a moment earlier, could
    land after a newer verdict and put an old one back (a replaced bad upload kept its error)."""
    key = key if key is not None else SHIPPED
    if key == (shown_key if shown_key is not None else SHIPPED):
        return (gr.skip(),) * 10
    cmp = models.comparator(key)
    lo, hi, step = slider_span(cmp.threshold, example_distance_span(cmp))
    threshold = slider_value(cmp.threshold, step)
    outs = compare_sides(models, key, sketch_a, upload_a, mode_a, sketch_b, upload_b, mode_b, threshold, strict=False)
    return (gr.Slider(minimum=lo, maximum=hi, step=step, value=threshold), *outs, gr.Timer(active=True), key)
