"""The notice over every tab while a session uses a model other than the pretrained one (its
retrained model, a class model), with the way back; and the notice that such a model has left
the server, so the page now uses the pretrained one. It follows the session's `model_key` and
`model_note` (demo.app wires it to their changes)."""
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
    dismiss: gr.Button

    def outputs(self) -> list:
        return [self.row, self.text, self.back, self.dismiss]


def build_model_banner() -> ModelBanner:
    with gr.Row(visible=False, elem_id="model-banner", equal_height=True) as row:
        text = gr.HTML("", elem_id="model-banner-text", padding=False)
        back = gr.Button("Back to the pretrained model", size="sm", variant="secondary",
                         elem_id="banner-back", scale=0, min_width=230)
        dismiss = gr.Button("OK", size="sm", variant="secondary", visible=False, elem_id="banner-dismiss",
                            scale=0, min_width=80)
    return ModelBanner(row, text, back, dismiss)


def banner_html(label: str) -> str:
    return (f'<div class="model-banner-text" data-model="other"><b>Using {html.escape(label)}</b>. Verdicts, '
            f'thresholds, neighbours and the teaching tabs come from it.</div>')


def gone_html(note: str) -> str:
    return f'<div class="model-banner-text" data-model="gone"><b>{html.escape(note)}</b></div>'


def gone_note(label: str | None, reason: str) -> str:
    """What the page says when the model it showed has left the server."""
    what = label[0].upper() + label[1:] if label else "The model this page used"
    return (f"{what} is no longer on this server: {reason}. Verdicts, thresholds and the teaching tabs "
            f"now come from the pretrained model.")


def banner_update(models: Models, key: str | None, note: str | None = None):
    """(row, text, back button, dismiss button) for the session's model key and note."""
    label = models.label(key or SHIPPED)
    if label is not None:
        return gr.Row(visible=True), banner_html(label), gr.Button(visible=True), gr.Button(visible=False)
    if note:
        return gr.Row(visible=True), gone_html(note), gr.Button(visible=False), gr.Button(visible=True)
    return gr.Row(visible=False), "", gr.Button(visible=True), gr.Button(visible=False)
