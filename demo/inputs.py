"""The page's digit inputs (the drawing pad, the upload) and their Gradio values -> what
`siamese.to_mnist` accepts.

Each side of the Compare tab has a pad and an upload; `mode` ("draw" / "upload", the tab in
front) says which one the side means.
"""
from __future__ import annotations

import base64
import binascii
from pathlib import Path
from urllib.parse import unquote

import gradio as gr
import numpy as np

EMPTY_SKETCH = {"background": None, "layers": [], "composite": None}
DRAW, UPLOAD = "draw", "upload"
CANVAS = 280  # px; with a brush radius of 12 a stroke keeps about MNIST's width at 28 x 28
BRUSH_RADIUS = 12


def digit_pad(elem_id: str) -> gr.Sketchpad:
    """A drawing pad for one digit: black brush on white paper, no layers. Its handler value is
    {"background": None, "layers": [], "composite": the composite's PNG bytes or None}."""
    pad = gr.Sketchpad(
        elem_id=elem_id, elem_classes="digit-pad", show_label=False, canvas_size=(CANVAS, CANVAS),
        layers=False, type="numpy", format="png",
        brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
        eraser=gr.Eraser(default_size=16), buttons=[], height=CANVAS + 80,
    )
    pad.preprocess = lambda payload: composite_bytes(pad, payload)
    return pad


def composite_bytes(pad: gr.Sketchpad, payload):
    """A Sketchpad payload -> the value digit_pad hands over: the composite as PNG bytes only.

    Gradio's own preprocess decodes background, layer and composite into arrays at every event,
    for both pads of a comparison (the browser sends the unchanged pad again). Only the
    composite is ever used, and as bytes it can be recognised by a hash and decoded by
    `to_mnist` only when it changed (demo.compare.handlers keeps each side's result)."""
    if payload is None:
        return None
    composite = payload.composite
    if payload.id is not None:  # sent ahead as blobs (the pad that changed)
        blobs = pad.blob_storage.pop(payload.id, None)
        composite = blobs.composite if blobs is not None else None
    if composite is None:
        return dict(EMPTY_SKETCH)
    data = Path(composite.path).read_bytes() if hasattr(composite, "path") else bytes(composite)
    return {"background": None, "layers": [], "composite": data}


def digit_upload(**kwargs) -> gr.Image:
    """A gr.Image whose handler value is the uploaded file's path, never decoded by Gradio.

    Plain gr.Image opens every upload with PIL before our code runs, so a corrupt file or a
    decompression bomb fails inside Gradio with a bare "Error". Here `to_mnist` opens it and
    says what is wrong; transparency is kept for it to composite. (An instance attribute rather
    than a subclass: Gradio writes a .pyi stub beside any module defining a component class.)
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = upload_value
    return image


def upload_value(payload):
    """gr.Image payload -> the file's path, the bytes of a data: URL, or None."""
    if payload is None:
        return None
    if payload.path:
        return str(payload.path)
    if payload.url and payload.url.startswith("data:") and "," in payload.url:
        try:
            return base64.b64decode(payload.url.split(",", 1)[1], validate=False)
        except (binascii.Error, ValueError):
            raise gr.Error("The pasted image could not be read.") from None
    raise gr.Error("The upload did not arrive: try again.")


def sketch_image(value) -> np.ndarray | bytes | None:
    """Sketchpad value -> its composite (PNG bytes from a digit_pad, or an (H, W, 4) array),
    white paper and black ink, or None when nothing has been drawn. `to_mnist` takes either."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("composite")
    if value is None:
        return None
    return value if isinstance(value, (bytes, bytearray)) else np.asarray(value)


def side_image(sketch, upload, mode: str):
    """The image one side stands for: the drawing or the uploaded file's path, or None."""
    if mode == UPLOAD:
        return upload or None
    return sketch_image(sketch)


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
