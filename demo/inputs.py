"""The page's drawing pads (demo/assets/pad.js) and what their values hold, for the tabs whose
server reads a drawing (Your symbols' Add, the One-shot tab). The Compare board's pads are its
own (demo.compare.views), on the same script.

A pad is a canvas of its own, not Gradio's Sketchpad: that one uploads its background, layers and
composite as PNGs at every change (about 50 requests a digit) and needs its brush chosen first.
Here the pad's value is its drawing, set by the script when a stroke ends: {"png": the paper's
PNG, base64}, or None once cleared; its `change` event fires once a stroke, as the Sketchpad's did.
"""
from __future__ import annotations

import base64
import binascii
import html
from pathlib import Path
from urllib.parse import unquote

import gradio as gr
import numpy as np

CANVAS = 280  # px, the paper's side; with a 24 px pen a stroke keeps about MNIST's width at 28 x 28
BRUSH_RADIUS = 12
ASSETS = Path(__file__).resolve().parent / "assets"
PAD_JS = "window.SiamesePad.mountValuePad(element, props, trigger, watch, props.config);"


def pad_config() -> dict:
    return {"paper": CANVAS, "brush": 2 * BRUSH_RADIUS}


def pad_html(elem_id: str, hint: str, clear_id: str | None = None) -> str:
    """A pad's HTML: #elem_id, where the script puts its canvas once it listens (a canvas on the
    page is one that draws), and a Clear button (#clear_id) under it. (A gr.HTML template: no
    backticks, no dollar-brace, no double braces.)"""
    clear = (f'<div class="pad-foot"><button type="button" class="pad-clear clear-btn" id="{clear_id}">Clear</button></div>'
             if clear_id else "")
    return (f'<div id="{elem_id}" class="digit-pad" data-label="{html.escape(hint)}">'
            f'<div class="pad-hint">{html.escape(hint)}</div></div>{clear}')


def digit_pad(elem_id: str, hint: str = "draw here", clear_id: str | None = None) -> gr.HTML:
    """A drawing pad whose value is its drawing (see the module's docstring)."""
    from .browser import url

    return gr.HTML(None, html_template=pad_html(elem_id, hint, clear_id), js_on_load=PAD_JS,
                   head=f'<script src="{url(ASSETS / "pad.js")}"></script>', config=pad_config(),
                   apply_default_css=False, elem_classes="pad-holder")


def sketch_image(value) -> bytes | np.ndarray | None:
    """A pad's value -> what `to_mnist` takes (the drawing's PNG bytes), or None when nothing is
    drawn (Gradio hands an emptied pad over as None or ""). Also takes {"composite": an array or
    bytes}, as tests and scripts hand drawings over; never a path (a value comes from the
    browser, and must not name a file of the server's)."""
    if not isinstance(value, dict):
        return None
    if value.get("png"):
        try:
            return base64.b64decode(value["png"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise gr.Error("The drawing did not arrive whole: draw it again.") from None
    composite = value.get("composite")
    if isinstance(composite, (bytes, bytearray)):
        return bytes(composite)
    return np.asarray(composite) if isinstance(composite, (np.ndarray, list)) else None


def file_list(**kwargs) -> gr.File:
    """A gr.File for several files whose handler value is `file_list_value`'s list: what
    gradio_client uploads, and what Gradio's MCP server passes on. (Gradio 6.31's MCP server
    turns a single file's URL into an upload but leaves the items of a list as the strings
    its caller sent, which the list's own data model then refuses; so the items are read here.)"""
    files = gr.File(file_count="multiple", type="filepath", **kwargs)
    files.data_model = None  # items reach file_list_value as sent, uploads already checked by Gradio
    files.preprocess = file_list_value
    return files


def file_list_value(payload) -> list:
    """gr.File list payload -> [the path of an uploaded file, or (name, bytes) of a data: URL];
    a data URL's name is its `name=` parameter (data:image/png;name=star;base64,...), else
    "reference N". Anything else is refused: an item that is not an upload names no file of
    this server's that Gradio has checked."""
    from .limits import MAX_UPLOAD_MB

    out = []
    for i, item in enumerate(payload or []):
        meta = item.get("meta") if isinstance(item, dict) else None
        if isinstance(meta, dict) and meta.get("_type") == "gradio.FileData" and item.get("path"):
            out.append(str(item["path"]))  # moved into (or checked to be in) Gradio's cache already
        elif isinstance(item, str) and item.startswith("data:") and "," in item:
            if len(item) > MAX_UPLOAD_MB * 1_400_000:  # base64 is 4/3 of the bytes
                raise gr.Error(f"Item {i + 1} is over {MAX_UPLOAD_MB} MB.")
            head, data = item[5:].split(",", 1)
            params = head.split(";")
            name = next((unquote(p[5:]) for p in params if p.startswith("name=") and p[5:]), f"reference {i + 1}")
            try:
                raw = base64.b64decode(data, validate=False) if "base64" in params else unquote(data).encode("latin-1")
            except (binascii.Error, ValueError, UnicodeEncodeError):
                raise gr.Error(f"Item {i + 1}: the data URL could not be read.") from None
            out.append((name, raw))
        else:
            raise gr.Error(f"Item {i + 1} is neither an uploaded file nor a data: URL "
                           f"(over MCP: data:image/png;name=star;base64,...).")
    return out
