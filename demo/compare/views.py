"""What the Compare tab shows from the server: the board the page's script brings to life (its
HTML), the distance plot with its legend and caption, and the neighbour galleries. The verdict
card is drawn by the script (demo/assets/board.js), in the browser. Pure functions of numbers
and arrays."""
from __future__ import annotations

import html
from collections import Counter

from ..distance_plot import distance_svg, plot_range
from ..views import fmt, png_data_uri

SEEN = "its 28\u00d728 input, enlarged"  # the network views' alt text


def _side_html(s: str) -> str:
    """One side: Draw/Upload switch, the pad (its canvas made by the script once it listens, so
    a canvas on the page is one that draws), the upload, Clear."""
    name = s.upper()
    return f"""<div class="board-side" data-side="{s}">
<div class="side-head"><span class="side-title">Digit {name}</span>
<div class="mode-switch" role="tablist" aria-label="Digit {name}: draw or upload">
<button type="button" role="tab" id="tab-draw-{s}-button" data-mode="draw" aria-selected="true">Draw</button>
<button type="button" role="tab" id="tab-upload-{s}-button" data-mode="upload" aria-selected="false">Upload</button>
</div></div>
<div id="sketch-{s}" class="digit-pad" data-panel="draw" data-label="Drawing pad for digit {name}: draw with the mouse, a finger or a stylus">
<div class="pad-hint">draw digit {name} here</div></div>
<div id="upload-{s}" class="digit-upload" data-panel="upload" hidden tabindex="0">
<label class="drop"><input type="file" accept="image/*" aria-label="Choose an image of digit {name}">
<img class="preview" alt="Uploaded image of digit {name}"><span class="drop-text">Drop, paste or <u>choose</u> an image:
PNG, JPEG or WebP, any size; dark on light or light on dark</span></label></div>
<div class="side-foot"><button type="button" id="clear-{s}" class="clear-btn">Clear {name}</button></div>
</div>"""


def board_html(examples: list[tuple[str, str]]) -> str:
    """The Compare board: both sides, the verdict, the network's two 28x28 views, the Compare
    button and the example pairs (URLs of their two images). Static: board.js fills it in.
    (A gr.HTML template: no backticks, no dollar-brace, no double braces.)"""
    views = "".join(
        f'<figure id="view-{s}" class="network-view empty"><canvas width="28" height="28" role="img" '
        f'aria-label="Digit {s.upper()} as the network sees it: {SEEN}"></canvas><figcaption>{s.upper()}</figcaption></figure>'
        for s in "ab")
    pairs = "".join(
        f'<button type="button" class="example" data-a="{html.escape(a)}" data-b="{html.escape(b)}" '
        f'aria-label="Example pair {i + 1}"><img src="{html.escape(a)}" alt=""><img src="{html.escape(b)}" alt=""></button>'
        for i, (a, b) in enumerate(examples))
    return f"""<div class="board" id="compare-row">
{_side_html("a")}
{_side_html("b")}
<div class="board-result result-col">
<div id="verdict" role="status" aria-live="polite" aria-atomic="true"></div>
<div class="views-title">What the network sees: A and B as 28\u00d728 inputs</div>
<div class="views">{views}</div>
<button type="button" id="compare-btn" class="compare-btn">Compare</button>
<div class="board-toast" role="status" hidden></div>
</div>
</div>
<div class="examples" id="examples"><div class="examples-title">Example pairs made for this page (drawn strokes and font
digits): click one</div><div class="examples-row">{pairs}</div></div>"""




def majority(neighbours) -> tuple[int, int]:
    """(most common label, how many of the neighbours have it)."""
    label, count = Counter(n.label for n in neighbours).most_common(1)[0]
    return label, count


def neighbours_html(side: str, neighbours, status: str = "ready") -> str:
    """A small labelled gallery of one digit's nearest MNIST test digits."""
    title = f'<div class="nn-title">Closest MNIST test digits to {side}'
    if neighbours is None:
        note = ("loading the MNIST test digits\u2026" if status == "loading"
                else "needs MNIST, which is not available here")
        return f'<div class="nn-box" data-side="{side}">{title}</div><div class="nn-note">{note}</div></div>'
    if not neighbours:
        return f'<div class="nn-box" data-side="{side}">{title}</div><div class="nn-note">compare two digits to see them</div></div>'
    label, count = majority(neighbours)
    title += f' <span class="nn-vote">\u2014 {count} of {len(neighbours)} are {label}s</span></div>'
    cells = "".join(
        f'<figure><img src="{png_data_uri(n.image)}" alt="MNIST test digit {n.label}">'
        f'<figcaption><b>{n.label}</b><span>{fmt(n.distance)}</span></figcaption></figure>'
        for n in neighbours
    )
    return f'<div class="nn-box" data-side="{side}">{title}<div class="nn-grid">{cells}</div></div>'


def plot_html(threshold: float, distance: float | None, ref=None, status: str = "ready") -> str:
    """The plot with its legend and a line on how the test pairs fare at this threshold."""
    if ref is None:
        note = ("Loading the MNIST test pairs for the distributions\u2026" if status == "loading"
                else "The same/different distributions need MNIST, which is not available here.")
        return (f'<div class="plot-box" data-ready="0">{distance_svg(threshold, distance)}'
                f'<div class="plot-note">{note}</div></div>')
    lo, hi = plot_range(threshold, None, ref.distance_range())
    hist = ref.histogram(lo, hi, bins=48)
    c = ref.confusion_at(threshold)
    n_same, n_diff = len(ref.same_distances), len(ref.different_distances)
    same_ok = c["tp"] / max(n_same, 1)
    diff_ok = c["tn"] / max(n_diff, 1)
    legend = (f'<div class="plot-legend"><span class="key same"></span>same digit ({n_same:,} test pairs)'
              f'<span class="key diff"></span>different digits ({n_diff:,} test pairs)'
              f'<span class="key pair"></span>this pair</div>')
    caption = (f'<div class="plot-caption">At this threshold, <b>{c["accuracy"] * 100:.1f}%</b> of the '
               f'{n_same + n_diff:,} fixed MNIST test pairs are judged right: {same_ok * 100:.1f}% of same pairs '
               f'are called same, {diff_ok * 100:.1f}% of different pairs are called different.</div>')
    return f'<div class="plot-box" data-ready="1">{legend}{distance_svg(threshold, distance, hist)}{caption}</div>'
