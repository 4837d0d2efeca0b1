"""The page's digit inputs (the drawing pad, the upload) and their Gradio values -> what
`siamese.to_mnist` accepts.

Each side of the Compare tab has a pad and an upload; `mode` ("draw" / "upload", the tab in
front) says which one the side means.
"""
from __future__ import annotations

import base64
import binascii

import gradio as gr
import numpy as np

EMPTY_SKETCH = {"background": None, "layers": [], "composite": None}
DRAW, UPLOAD = "draw", "upload"
CANVAS = 280  # px; with a brush radius of 12 a stroke keeps about MNIST's width at 28 x 28
BRUSH_RADIUS = 12


def digit_pad(elem_id: str) -> gr.Sketchpad:
    """A drawing pad for one digit: black brush on white paper, no layers, numpy values."""
    return gr.Sketchpad(
        elem_id=elem_id, elem_classes="digit-pad", show_label=False, canvas_size=(CANVAS, CANVAS),
        layers=False, type="numpy", format="png",
        brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
        eraser=gr.Eraser(default_size=16), buttons=[], height=CANVAS + 80,
    )


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


def sketch_image(value) -> np.ndarray | None:
    """Sketchpad value -> its composite (H, W, 4) uint8 (white paper, black ink), or None when
    nothing has been drawn."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("composite")
    if value is None:
        return None
    return np.asarray(value)


def side_image(sketch, upload, mode: str):
    """The image one side stands for: the drawing or the uploaded file's path, or None."""
    if mode == UPLOAD:
        return upload or None
    return sketch_image(sketch)
