"""Event handlers of the Compare tab and the /compare API, as plain functions of Gradio values.

They turn inputs into arrays (demo.inputs), call `siamese` (Comparator, Reference) and turn the
results into component values (demo.compare.views). demo.compare.tab wires them into the page;
tests call them directly.

The tab has one handler, `show`: whatever changed (a stroke, an upload, a tab, the threshold,
the model, the MNIST reference arriving), it recomputes the verdict from what the two sides
hold now. It keeps what it showed in a `CompareView` (a gr.State), so a side that did not
change is neither preprocessed nor embedded again, and panels that would come out the same
are skipped rather than sent again.
"""
from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from siamese import BlankImageError, Comparator, ImageError

from ..banner import gone_note
from ..distance_plot import slider_span, slider_value
from ..examples import example_pairs
from ..inputs import side_image
from ..models import SHIPPED, Models
from ..views import clean_message, network_view
from . import views

N_NEIGHBOURS = 8
START_HINT = "Draw or upload two digits, one on each side."


class SideError(ValueError):
    """One side's image cannot be used; the message names the side."""

    def __init__(self, side: str, error: ImageError):
        self.side, self.blank = side, isinstance(error, BlankImageError)
        super().__init__(f"{side}: {clean_message(error)}")


def preprocess_or_explain(cmp: Comparator, image, name: str) -> np.ndarray:
    """Comparator.preprocess, with a bad image reported as SideError naming its side."""
    try:
        return cmp.preprocess(image)
    except ImageError as e:
        raise SideError(name, e) from None


@dataclass
class Shown:
    """The comparison on screen: what the embedding map marks and the threshold redraws."""

    distance: float
    same_probability: float
    image_a: np.ndarray  # (28, 28) float, what the network saw
    image_b: np.ndarray
    guesses: tuple[str, str] | None = None  # majority label of each side's neighbours


@dataclass(frozen=True)
class Side:
    """One side as the model `key` sees it, kept while the side holds the same input."""

    key: str
    source: str | None  # what the side holds (see `identity`); None: nothing
    image: np.ndarray | None = None  # (28, 28) float
    embedding: torch.Tensor | None = None  # (1, D)
    problem: SideError | None = None


@dataclass
class CompareView:
    """What the tab shows, per session (a gr.State): the model whose threshold the slider
    holds, both sides, the comparison, and a signature of each panel sent (an equal signature
    means the panel on screen is already right)."""

    key: str = SHIPPED
    a: Side | None = None
    b: Side | None = None
    shown: Shown | None = None
    panels: dict = field(default_factory=dict)


def identity(source) -> str | None:
    """A short name for what a side holds: an upload's file path (every upload gets its own),
    or a hash of a drawing's pixels (the pad sends them again at every event)."""
    if source is None:
        return None
    if isinstance(source, (str, Path)):
        return f"file:{source}"
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else np.ascontiguousarray(source).tobytes()
    shape = "" if isinstance(source, (bytes, bytearray)) else str(np.shape(source))
    return f"data:{shape}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"


def _missing_message(a: Side, b: Side) -> str | None:
    if a.source is None and b.source is None:
        return START_HINT
    if a.source is None:
        return "Now draw or upload digit A (left)."
    if b.source is None:
        return "Now draw or upload digit B (right)."
    return None


_spans: "weakref.WeakKeyDictionary[Comparator, tuple[float, float]]" = weakref.WeakKeyDictionary()


def example_distance_span(cmp: Comparator) -> tuple[float, float]:
    """Smallest and largest distance between any two of the example digits: the model's scale
    for the threshold slider before (or without) the MNIST reference. Once per model."""
    span = _spans.get(cmp)
    if span is None:
        files = sorted({f for pair in example_pairs() for f in pair})
        emb = cmp.embed(np.stack([cmp.preprocess(f) for f in files]))  # (F, D)
        i, j = np.triu_indices(len(files), 1)
        d = cmp.distance(emb[i], emb[j])
        span = _spans[cmp] = (float(d.min()), float(d.max()))
    return span


def _sides(cmp: Comparator, key: str, view: CompareView, sources) -> tuple[Side, Side]:
    """Both sides for `sources` (A's input, B's input), reusing a side whose input and model
    are unchanged; the new ones embedded in one batch."""
    out = []
    for name, source, kept in zip(("Digit A", "Digit B"), sources, (view.a, view.b)):
        ident = identity(source)
        if kept is not None and kept.key == key and kept.source == ident:
            out.append(kept)
        elif source is None:
            out.append(Side(key, None))
        else:
            try:
                out.append(Side(key, ident, preprocess_or_explain(cmp, source, name)))
            except SideError as e:
                out.append(Side(key, ident, problem=e))
    todo = [i for i, s in enumerate(out) if s.image is not None and s.embedding is None]
    if todo:
        emb = cmp.embed(np.stack([out[i].image for i in todo]))  # (len(todo), D)
        for row, i in enumerate(todo):
            out[i] = replace(out[i], embedding=emb[row : row + 1])
    return out[0], out[1]


class _Emit:
    """Outputs that skip panels whose signature equals the one already on screen."""

    def __init__(self, panels: dict):
        self.panels = dict(panels)

    def __call__(self, name: str, signature, make):
        if signature is not None and self.panels.get(name) == signature:
            return gr.skip()
        self.panels[name] = signature
        return make()


def show(models: Models, key: str | None, view: CompareView | None, sketch_a, upload_a, mode_a,
         sketch_b, upload_b, mode_b, threshold: float, strict: bool = False):
    """The tab's one handler: the verdict for what the two sides hold now, under the session's
    model. Outputs: verdict, both network views, plot, both neighbour panels, threshold slider,
    the CompareView, model_key and model_note (both skipped unless the model left the server).

    strict (the Compare button): a missing or unusable side also pops up a warning. Otherwise
    (a stroke, an upload, a tab switch) only the verdict card says it: drawing the first digit
    must not pop up warnings.
    """
    view = view if view is not None else CompareView()
    key, new_key, note = key or SHIPPED, gr.skip(), gr.skip()
    gone = models.gone(key)
    if gone is not None:  # the model this tab used has left the server: say so, use the shipped one
        key, new_key, note = SHIPPED, SHIPPED, gone_note(gone.label, gone.reason)
    cmp = models.comparator(key)
    ref = models.reference(key)
    status = "ready" if ref is not None else models.status(key)
    emit = _Emit(view.panels if view.key == key else {})

    # The slider: the model's own threshold when the model changed; a new span once the
    # reference (the test pairs' distances) replaces the example digits' span.
    lo, hi, step = slider_span(cmp.threshold, ref.distance_range() if ref is not None
                               else example_distance_span(cmp))
    if view.key != key or threshold is None:
        threshold = slider_value(cmp.threshold, step)
        slider = gr.Slider(minimum=lo, maximum=hi, step=step, value=threshold)
        emit.panels["slider"] = (key, ref is not None)
    else:
        threshold = slider_value(min(max(float(threshold), lo), hi), step)
        slider = emit("slider", (key, ref is not None),
                      lambda: gr.Slider(minimum=lo, maximum=hi, step=step, value=threshold))

    a, b = _sides(cmp, key, view, (side_image(sketch_a, upload_a, mode_a), side_image(sketch_b, upload_b, mode_b)))
    message = _missing_message(a, b)
    kind = "hint"
    if message is None and (a.problem or b.problem):
        problem = a.problem or b.problem
        message, kind = str(problem), "hint" if problem.blank else "error"
    if message is not None:
        if strict:
            gr.Warning(message, title="Two digits needed" if kind == "hint" else "Cannot compare")
        shown = None
        out = (views.message_html(message, kind),
               emit("view_a", "none", lambda: None), emit("view_b", "none", lambda: None),
               emit("plot", (threshold, None, status), lambda: views.plot_html(threshold, None, ref, status)),
               emit("nn_a", (None, status), lambda: views.neighbours_html("A", [] if ref else None, status)),
               emit("nn_b", (None, status), lambda: views.neighbours_html("B", [] if ref else None, status)))
    else:
        d = float(cmp.distance(a.embedding, b.embedding)[0])
        p = float(cmp.same_probability(a.embedding, b.embedding)[0])
        shown = Shown(d, p, a.image, b.image)
        nn = {}
        if ref is not None:  # each side's neighbours, only for a side that changed
            todo = [s for s, side in (("a", a), ("b", b)) if emit.panels.get(f"nn_{s}") != (side.source, status)]
            if todo:
                found = ref.nearest_to(torch.cat([(a if s == "a" else b).embedding for s in todo]), k=N_NEIGHBOURS)
                nn = dict(zip(todo, found))
            guesses = view.shown.guesses if view.shown is not None else None
            shown.guesses = tuple(str(views.majority(nn[s])[0]) if s in nn else (guesses or ("", ""))["ab".index(s)]
                                  for s in "ab")
        out = (views.verdict_html(d, p, threshold, shown.guesses),
               emit("view_a", a.source, lambda: network_view(a.image)),
               emit("view_b", b.source, lambda: network_view(b.image)),
               emit("plot", (threshold, d, status), lambda: views.plot_html(threshold, d, ref, status)),
               emit("nn_a", (a.source, status), lambda: views.neighbours_html("A", nn.get("a"), status)),
               emit("nn_b", (b.source, status), lambda: views.neighbours_html("B", nn.get("b"), status)))
    return (*out, slider, CompareView(key, a, b, shown, emit.panels), new_key, note)


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
            same (true when distance <= threshold), threshold, verdict ("same" or "different"), metric,
            model (which model judged: "shipped", the pretrained digit model)
        """
        return compare_files(models, image_a, image_b)

    return compare


def compare_files(models: Models, file_a, file_b, key: str = SHIPPED) -> dict:
    """The /compare API: two image files -> distance, same_probability, same, threshold, verdict,
    metric and the model used. Uses the model's own threshold. Any problem raises gr.Error
    (gradio_client: AppError)."""
    if not file_a or not file_b:
        raise gr.Error("Send two image files: image_a and image_b.", title="Two images needed")
    cmp = models.comparator(key)
    try:
        r = cmp.compare(file_a, file_b)
    except ImageError:
        try:  # which side, and why
            for name, f in (("image_a", file_a), ("image_b", file_b)):
                preprocess_or_explain(cmp, f, name)
        except SideError as e:
            raise gr.Error(str(e), title="Cannot compare") from None
        raise
    return {**r.to_dict(), "verdict": views.verdict_text(r.distance, r.same_probability, r.threshold)[0],
            "metric": cmp.model.config.metric, "model": key}
