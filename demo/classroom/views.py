"""What a class sees: the teacher's share card (code, link, a QR code big enough for the back of
a room) and the watchers' status line. The curves and the map are the Retrain tab's
(demo.retrain.views), drawn from the same RunRecord."""
from __future__ import annotations

import html

import segno

from .classes import ClassRun

JOIN_HINT = "Type the code the teacher shows, or open the teacher's link."


def qr_svg(link: str) -> str:
    """The link as a QR code, inline SVG (medium error correction: a projector's glare and a
    phone's angle still read it)."""
    return segno.make(link, error="m").svg_inline(scale=8, border=2, dark="#111111", light="#ffffff")


def share_html(cls: ClassRun, link: str) -> str:
    """The teacher's card: the code in large type, the link and its QR code, who follows."""
    n = len(cls.watchers)
    return (f'<div class="class-share" data-code="{cls.code}">'
            f'<div class="class-share-text"><div class="class-share-head">Class code</div>'
            f'<div class="class-code" id="class-code">{cls.code}</div>'
            f'<div class="class-link">Students open <a href="{html.escape(link)}" target="_blank">'
            f'{html.escape(link)}</a>, scan the code, or type <b>{cls.code}</b> in the Class tab.</div>'
            f'<div class="class-watchers" data-watchers="{n}">{n} screen{"s" if n != 1 else ""} following'
            f'</div></div><div class="class-qr" role="img" aria-label="QR code of the class link">'
            f'{qr_svg(link)}</div></div>')


def status_html(text: str, kind: str = "info") -> str:
    """The watchers' line over the curves: kind info | running | done | error."""
    return f'<div class="rt-status {kind}" data-kind="{kind}"><span class="rt-dot"></span><span>{text}</span></div>'


def watch_status(cls: ClassRun, alive: bool) -> str:
    """Where the class's run stands, for a student's screen."""
    r = cls.record
    if not alive:
        return status_html(f"Class {cls.code} has ended; the pretrained model is back.", "error")
    if r.state == "starting":
        return status_html(f"Class <b>{cls.code}</b>: the teacher's run is starting\u2026", "running")
    if r.state == "training":
        return status_html(f"Class <b>{cls.code}</b>: following the teacher's run live.", "running")
    if r.state == "failed":
        why = f" ({html.escape(r.note)})" if r.note else ""
        return status_html(f"Class <b>{cls.code}</b>: the teacher's run failed{why}.", "error")
    if cls.model_key is None:
        return status_html(f"Class <b>{cls.code}</b>: the run ended before it learned anything.", "info")
    how = "stopped" if r.state == "stopped" else "done"
    return status_html(f"<b>Class {cls.code}: {how}.</b> Compare and the teaching tabs now use the "
                       f"class model.", "done")
