"""The notice over every tab while a session uses a model other than the pretrained one (its
retrained model, a class model), with the way back. Tabs that change the session's model
chain `follow` after the change (demo.app builds it)."""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from .models import SHIPPED, Models


@dataclass
class ModelBanner:
    row: gr.Row
    text: gr.HTML
    back: gr.Button


def build_model_banner() -> ModelBanner:
    with gr.Row(visible=False, elem_id="model-banner", equal_height=True) as row:
        text = gr.HTML("", elem_id="model-banner-text", padding=False)
        back = gr.Button("Back to the pretrained model", size="sm", variant="secondary",
                         elem_id="banner-back", scale=0, min_width=230)
    return ModelBanner(row, text, back)


def banner_html(label: str) -> str:
    return (f'<div class="model-banner-text"><b>Using {html.escape(label)}</b>. Verdicts, thresholds, '
            f'neighbours and the teaching tabs come from it.</div>')


def banner_update(models: Models, key: str | None):
    """(the row, its text) for the session's model key."""
    label = models.label(key or SHIPPED)
    return gr.Row(visible=label is not None), banner_html(label) if label else ""
