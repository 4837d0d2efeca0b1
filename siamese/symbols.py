"""What a run trains on, from `TrainConfig.data`: MNIST's digits, Omniglot's background
characters, or both.

- "mnist": `data.load_mnist`, as ever.
- "omniglot": `Symbols`: the characters of the alphabets not held out (x `rotations`, each turn a
  class of its own) to train on; the held-out alphabets' drawings to choose the threshold on and
  to score fixed 20-way within-alphabet one-shot episodes (`oneshot.Episodes`), the validation
  score that mirrors the 20 runs. With none held out (a final model), the threshold comes from
  the unrotated training drawings and there is no validation score.
- "mnist+omniglot": MNIST, its training split joined by those characters with labels after the
  ten digits (digit d keeps label d; character class k becomes 10 + k), so excluded digits
  leave it as before and no class is shared; the held-out alphabets give the episodes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import TrainConfig
from .data import MNIST, NUM_CLASSES, Split, load_mnist
from .omniglot import Omniglot, load_background
from .oneshot import Episodes
from .pairs import draw_episodes

VAL_EPISODES = 100  # validation episodes (2,000 queries at 20-way): a few ms once embedded
MAX_WAY = 20  # the runs' way; fewer when a held-out alphabet has fewer characters


@dataclass
class Symbols:
    """Omniglot training data (TrainConfig.data "omniglot"), shaped like `data.MNIST` where the
    trainer reads it."""

    train: Split  # the training alphabets' drawings x rotations; labels 0..classes-1
    val: Split  # threshold and calibration pairs (labels: character ids)
    test: None = None  # no test split here: the 20 runs are scored by siamese.evaluate alone


def rotation_classes(images: torch.Tensor, labels: torch.Tensor, rotations: int) -> Split:
    """Every image turned by k * 360 / rotations degrees for k < rotations, each turn of a class
    a class of its own: (N, 28, 28), (N,) -> (R N, 28, 28), (R N,) with label * R + k, turn k
    after turn k - 1. A quarter turn of a 28x28 image is exact (no resampling)."""
    quarter_turns = 4 // rotations
    return Split(torch.cat([torch.rot90(images, k * quarter_turns, dims=(1, 2)) for k in range(rotations)]),
                 torch.cat([labels * rotations + k for k in range(rotations)]))


def compact(labels: torch.Tensor) -> torch.Tensor:
    """Labels renumbered 0..K-1 in their sorted order: (N,) -> (N,)."""
    return torch.unique(labels, return_inverse=True)[1]


def split_alphabets(omni: Omniglot, held_out) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held) index tensors into `omni`: the drawings of the other alphabets, and of
    the alphabets named in `held_out`."""
    held_ids = torch.tensor([omni.alphabet_names.index(a) for a in held_out], dtype=torch.long)
    held = torch.isin(omni.alphabets, held_ids)
    return torch.nonzero(~held).squeeze(1), torch.nonzero(held).squeeze(1)


def validation_episodes(omni: Omniglot, idx: torch.Tensor, images: torch.Tensor,
                        count: int = VAL_EPISODES, seed: int = 0) -> Episodes:
    """Fixed within-alphabet one-shot episodes among the drawings `idx` of `omni`, whose images
    (already where they will be used) are `images`; as many ways as the runs' 20, or as the
    smallest alphabet has characters."""
    alph = omni.alphabets[idx]
    smallest = min(len(omni.labels[idx][alph == a].unique()) for a in alph.unique())
    refs, queries = draw_episodes(omni.labels[idx], alph, omni.drawers[idx], count, min(MAX_WAY, smallest), seed)
    return Episodes(images, refs.to(images.device), queries.to(images.device))


def symbols(cfg: TrainConfig, device="cpu", omni: Omniglot | None = None) -> tuple[Symbols, Episodes | None]:
    """The Omniglot training data `cfg` asks for (module docstring), on `device`."""
    omni = omni if omni is not None else load_background(cfg.data_dir)
    train_idx, held_idx = split_alphabets(omni, cfg.val_alphabets)
    train = rotation_classes(omni.images[train_idx], compact(omni.labels[train_idx]), cfg.rotations)
    if not len(held_idx):  # a final model: a threshold from what it trained on, no validation score
        return Symbols(train.to(device), Split(omni.images[train_idx], omni.labels[train_idx]).to(device)), None
    val = Split(omni.images[held_idx], omni.labels[held_idx]).to(device)
    return Symbols(train.to(device), val), validation_episodes(omni, held_idx, val.images)


def with_symbols(mnist: MNIST, train: Split) -> MNIST:
    """MNIST whose training split also holds `train` (character classes 0..K-1), labelled
    after the digits: NUM_CLASSES + k."""
    labels = train.labels.to(mnist.train.labels.device) + NUM_CLASSES
    joined = Split(torch.cat([mnist.train.images, train.images.to(mnist.train.images.device)]),
                   torch.cat([mnist.train.labels, labels]))
    return MNIST(joined, mnist.val, mnist.test, mnist.full_train)


def load_training_data(cfg: TrainConfig, device="cpu") -> tuple[MNIST | Symbols, Episodes | None]:
    """The data `cfg.data` names, on `device`, and its validation episodes (None for MNIST)."""
    if cfg.data == "mnist":
        return load_mnist(cfg.data_dir, device, cfg.val_size), None
    chars, episodes = symbols(cfg, device)
    if cfg.data == "omniglot":
        return chars, episodes
    return with_symbols(load_mnist(cfg.data_dir, device, cfg.val_size), chars.train), episodes
