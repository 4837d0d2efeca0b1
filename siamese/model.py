"""The siamese network: one CNN tower applied to both images (that is the weight sharing), and
the blog's head on the squared difference of the two descriptors."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .preprocess import normalize, to_float


class SiameseNet(nn.Module):
    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        c1, c2, c3 = config.channels

        def conv(cin, cout, k):  # the blog's conv + ReLU, with BatchNorm between if asked
            if not config.batchnorm:
                return [nn.Conv2d(cin, cout, k), nn.ReLU(inplace=True)]
            return [nn.Conv2d(cin, cout, k, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        # 28 -> conv7 -> 22 -> pool -> 11 -> conv5 -> 7 -> conv5 -> 3: a (c3, 3, 3) map.
        self.tower = nn.Sequential(
            *conv(1, c1, 7),
            nn.MaxPool2d(2),
            *conv(c1, c2, 5),
            *conv(c2, c3, 5),
            nn.Flatten(),
            nn.Linear(c3 * 3 * 3, config.embedding_dim),
            *([nn.ReLU(inplace=True)] if config.final_relu else []),
        )
        self.head = nn.Linear(config.embedding_dim, 2)  # logits: [different, same]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, [1,] 28, 28) float in [0, 1] or uint8 -> (N, D) descriptors (unit length when
        `config.normalize`)."""
        emb = self.tower(normalize(to_float(x)))
        return F.normalize(emb, dim=-1) if self.config.normalize else emb

    def pair_logits(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """(P, D), (P, D) -> (P, 2). Squared difference keeps it symmetric in a and b."""
        return self.head((emb_a - emb_b).pow(2))

    def pair_logit_matrix(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, B): the head's logit(same) - logit(different) for every pair, without
        forming the B^2 squared differences: sum_k v_k (a_k - b_k)^2 = s_a + s_b - 2 (a * v) . b
        with v = W[same] - W[different], s = sum_k v_k a_k^2."""
        e = emb.float()
        w, b = self.head.weight.float(), self.head.bias.float()
        v = w[1] - w[0]  # (D,)
        s = (e * e) @ v  # (B,)
        return s.unsqueeze(1) + s.unsqueeze(0) - 2 * (e * v) @ e.T + (b[1] - b[0])

    def metric_weights(self) -> torch.Tensor | None:
        """(D,) weights v of the head's distance, or None for plain Euclidean distance.

        The head's 'same' minus 'different' logit is c - sum_i v_i (a_i - b_i)^2 with
        v = W[different] - W[same] and c = b[same] - b[different]; so the weighted squared
        difference is the distance the bce-trained network decides on.
        """
        if self.config.metric != "head":
            return None
        w = self.head.weight
        return (w[0] - w[1]).float()

    def distance(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """(P, D), (P, D) -> (P,). 'head': sum_i v_i (a_i - b_i)^2, so p(same) = sigmoid(c - d)
        (0 for identical digits; can dip below 0 when the head treats some differences as
        evidence for 'same'). 'euclidean': ||a - b||."""
        sq = (emb_a.float() - emb_b.float()).pow(2)
        v = self.metric_weights()
        return sq.sum(-1).sqrt() if v is None else sq @ v

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Two image batches -> (N, 2) logits, as in the blog."""
        return self.pair_logits(self.embed(a), self.embed(b))


def same_probability_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """(P, 2) -> (P,) softmax probability of 'same'."""
    return torch.softmax(logits.float(), dim=-1)[..., 1]
