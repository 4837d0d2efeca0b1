"""The "How it works" panel: a small diagram of the siamese network and a few sentences, filled
in with the loaded model's own facts (descriptor size, distance, test metrics)."""
from __future__ import annotations

from siamese import Comparator

from ..views import DIFF_COLOUR, SAME_COLOUR, fmt

DIAGRAM = """<svg class="how-svg" viewBox="0 0 360 330" role="img" aria-label="diagram of the siamese network">
<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
<path d="M0,0L10,5L0,10z" fill="#6b7280"/></marker></defs>
<g class="box"><rect x="40" y="8" width="70" height="46" rx="8"/><text x="75" y="37">digit A</text></g>
<g class="box"><rect x="250" y="8" width="70" height="46" rx="8"/><text x="285" y="37">digit B</text></g>
<text x="75" y="70" class="small">28\u00d728</text><text x="285" y="70" class="small">28\u00d728</text>
<line x1="75" y1="74" x2="75" y2="94" marker-end="url(#arr)"/><line x1="285" y1="74" x2="285" y2="94" marker-end="url(#arr)"/>
<g class="tower"><rect x="20" y="98" width="110" height="52" rx="8"/><text x="75" y="121">CNN tower</text><text x="75" y="139" class="small">conv \u2192 conv \u2192 conv</text></g>
<g class="tower"><rect x="230" y="98" width="110" height="52" rx="8"/><text x="285" y="121">CNN tower</text><text x="285" y="139" class="small">conv \u2192 conv \u2192 conv</text></g>
<line x1="130" y1="124" x2="230" y2="124" class="shared"/><text x="180" y="117" class="small accent">same weights</text>
<line x1="75" y1="150" x2="75" y2="170" marker-end="url(#arr)"/><line x1="285" y1="150" x2="285" y2="170" marker-end="url(#arr)"/>
<g class="vec"><rect x="30" y="174" width="90" height="20" rx="3"/><text x="75" y="189" class="small">a: {dim} numbers</text></g>
<g class="vec"><rect x="240" y="174" width="90" height="20" rx="3"/><text x="285" y="189" class="small">b: {dim} numbers</text></g>
<line x1="75" y1="194" x2="160" y2="222" marker-end="url(#arr)"/><line x1="285" y1="194" x2="200" y2="222" marker-end="url(#arr)"/>
<g class="dist"><rect x="95" y="224" width="170" height="40" rx="8"/><text x="180" y="249">{distance}</text></g>
<line x1="180" y1="264" x2="180" y2="282" marker-end="url(#arr)"/>
<text x="180" y="302" class="out"><tspan fill="{same}">same</tspan> if d \u2264 threshold, else <tspan fill="{diff}">different</tspan></text>
<text x="180" y="322" class="small">{prob}</text>
</svg>"""


def how_it_works_html(cmp: Comparator) -> str:
    cfg = cmp.model.config
    head = cfg.metric == "head"
    distance = "d = \u03a3 v\u1d62 (a\u1d62 \u2212 b\u1d62)\u00b2" if head else "d = \u2016a \u2212 b\u2016"
    prob = "p(same) = \u03c3(c \u2212 d), from the head" if head else "p(same) = \u03c3(\u03b1d + \u03b2), fitted on validation pairs"
    svg = DIAGRAM.format(dim=cfg.embedding_dim, distance=distance, prob=prob, same=SAME_COLOUR, diff=DIFF_COLOUR)
    if head:
        dist_text = (f"The head takes the squared differences (a\u1d62 \u2212 b\u1d62)\u00b2 and weighs each "
                     f"of the {cfg.embedding_dim}: their weighted sum is the distance d. Identical digits give "
                     f"0; some weights are negative, so a very alike pair can even score below 0.")
        head_text = ("The same linear head turns d into the chance the digits match, p = \u03c3(c \u2212 d). "
                     "Training on pairs of same and different MNIST digits (binary cross-entropy) taught the "
                     "tower and the head together.")
    else:
        dist_text = "The distance is the plain Euclidean distance between the two descriptors."
        head_text = ("Training (contrastive or triplet loss) pulled descriptors of the same digit together and "
                     "pushed different digits at least a margin apart; the chance of a match is a logistic "
                     "fit of the distance on validation pairs.")
    m = cmp.metrics
    facts = [f"threshold {fmt(cmp.threshold)} (chosen on validation pairs, never on test)"]
    if "pair_accuracy" in m:
        on = f"{int(m['num_test_pairs']):,} " if "num_test_pairs" in m else ""
        facts.append(f"{m['pair_accuracy'] * 100:.1f}% right on {on}fixed test pairs")
    if "roc_auc" in m:
        facts.append(f"ROC AUC {m['roc_auc']:.4f}")
    return f"""<div class="how">
<h3>How it works</h3>
{svg}
<p><b>Weight sharing.</b> Both digits go through the <i>same</i> convolutional tower, with the same
weights. Whatever it learns about a 7 applies to either side, and swapping A and B changes nothing.</p>
<p><b>The descriptor.</b> The tower turns each 28\u00d728 image into {cfg.embedding_dim} numbers that describe
its shape: the same digit drawn twice should land on nearby descriptors.</p>
<p><b>The distance.</b> {dist_text}</p>
<p><b>The head.</b> {head_text}</p>
<p><b>The decision.</b> \u201cSame\u201d when d is at most the threshold. Move the threshold slider and watch
the mistakes trade places on the plot: fewer missed matches, more false alarms.</p>
<p><b>What the network sees.</b> Your drawing is cropped, scaled so its longer side is 20 pixels and centred
by its centre of mass in a 28\u00d728 field, as MNIST's digits were. The two small black squares are exactly
that input.</p>
<p class="facts">This model: {"; ".join(facts)}.</p>
<p id="engine-note" class="engine-note" aria-live="polite">Where it runs: loading the network into your browser\u2026</p>
</div>"""
