"""Compare results -> what the tab shows: the verdict card, the distance plot with its legend and
caption, and the neighbour galleries. Pure functions of numbers and arrays."""
from __future__ import annotations

import html
from collections import Counter

from ..distance_plot import distance_svg, plot_range
from ..views import fmt, png_data_uri


def message_html(text: str, kind: str = "hint") -> str:
    """A card in place of the verdict: kind 'hint' (what to do next) or 'error'."""
    icon = "\u26a0\ufe0f" if kind == "error" else "\u270f\ufe0f"
    return (f'<div class="verdict-card {kind}" data-verdict="{kind}">'
            f'<div class="verdict-msg"><span class="msg-icon">{icon}</span>{html.escape(text)}</div></div>')


def verdict_text(distance: float, p_same: float, threshold: float) -> tuple[str, str, str]:
    """(verdict 'same'/'different', headline, one plain sentence) for a pair."""
    same = distance <= threshold
    if same:
        if p_same >= 0.9:
            head, say = "Same digit", "The network is confident both images show the same digit."
        elif p_same >= 0.5:
            head, say = "Probably the same digit", "The network leans towards the same digit, without much margin."
        else:
            head, say = ("Same digit, only just",
                         "The distance is under the threshold, but the head on its own would call them "
                         "different: a borderline pair.")
    else:
        if p_same <= 0.1:
            head, say = "Different digits", "The network is confident these are two different digits."
        elif p_same <= 0.5:
            head, say = "Probably different digits", "The network leans towards different digits, without much margin."
        else:
            head, say = ("Different digits, only just",
                         "The distance is over the threshold, but the head on its own would call them "
                         "the same: a borderline pair.")
    return ("same" if same else "different"), head, say


def verdict_html(distance: float, p_same: float, threshold: float, guesses: tuple[str, str] | None = None) -> str:
    verdict, head, say = verdict_text(distance, p_same, threshold)
    rel = "\u2264" if verdict == "same" else ">"
    why = (f"Distance {fmt(distance)} {rel} threshold {fmt(threshold)}, so the verdict is "
           f"\u201c{verdict}\u201d. Smaller distance means more alike.")
    guess = ""
    if guesses:
        guess = (f'<div class="verdict-guess">Nearest MNIST digits say: A looks like a <b>{guesses[0]}</b>, '
                 f'B like a <b>{guesses[1]}</b>.</div>')
    return f"""<div class="verdict-card {verdict}" data-verdict="{verdict}">
<div class="verdict-head">{head}</div>
<div class="verdict-say">{say}</div>
<div class="verdict-nums">
  <div><b id="distance-value">{fmt(distance)}</b><span>distance</span></div>
  <div><b id="probability-value">{p_same * 100:.0f}%</b><span>chance of same digit</span></div>
  <div><b>{fmt(threshold)}</b><span>threshold</span></div>
</div>
<div class="verdict-why">{why}</div>{guess}
</div>"""


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
