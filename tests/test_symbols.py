"""siamese.symbols: rotation classes, held-out alphabets, label offsets and the trainer on
Omniglot-shaped data, on a stand-in set built here (no archives); then the real one."""
from __future__ import annotations

import pytest
import torch

from siamese.config import ModelConfig, TrainConfig
from siamese.data import NUM_CLASSES
from siamese.omniglot import Omniglot
from siamese.symbols import Symbols, compact, rotation_classes, split_alphabets, symbols, with_symbols
from siamese.train import Trainer

from .test_train_options import SMALL, fake_mnist


def fake_omniglot() -> Omniglot:
    """Balinese: 3 characters, Greek: 2, Tagalog: 3; each drawn by drawers 1-4. Pixel (14, 14)
    holds the character id, (14, 15) the drawer, so an image tells where it came from."""
    alphabets = [0, 0, 0, 1, 1, 2, 2, 2]  # of characters 0..7
    labels = torch.tensor([c for c in range(8) for _ in range(4)])
    drawers = torch.tensor([d for _ in range(8) for d in range(1, 5)])
    images = torch.zeros(32, 28, 28, dtype=torch.uint8)
    images[:, 14, 14], images[:, 14, 15] = labels.to(torch.uint8), drawers.to(torch.uint8)
    return Omniglot(images, labels, torch.tensor(alphabets)[labels], drawers, ("Balinese", "Greek", "Tagalog"),
                    tuple(f"{a}/character{c + 1:02d}" for c, a in enumerate("BBBGGTTT")))


def test_rotation_classes_by_hand():
    img = torch.zeros(2, 28, 28, dtype=torch.uint8)
    img[:, 0, 1] = 255  # one pixel in the top row, near the left
    out = rotation_classes(img, torch.tensor([3, 5]), 4)
    assert out.labels.tolist() == [12, 20, 13, 21, 14, 22, 15, 23]  # label * 4 + turn, turn by turn
    # quarter turns counter-clockwise: top row -> left column -> bottom row -> right column
    where = [tuple(torch.nonzero(out.images[i]).squeeze(0).tolist()) for i in range(0, 8, 2)]
    assert where == [(0, 1), (26, 0), (27, 26), (1, 27)]
    half = rotation_classes(img, torch.tensor([3, 5]), 2)
    assert half.labels.tolist() == [6, 10, 7, 11]
    assert torch.nonzero(half.images[2]).squeeze(0).tolist() == [27, 26]  # 180 degrees
    same = rotation_classes(img, torch.tensor([3, 5]), 1)
    assert same.labels.tolist() == [3, 5] and torch.equal(same.images, img)


def test_compact_and_split_alphabets():
    assert compact(torch.tensor([5, 2, 5, 9])).tolist() == [1, 0, 1, 2]
    omni = fake_omniglot()
    train, held = split_alphabets(omni, ("Greek",))
    assert omni.labels[held].unique().tolist() == [3, 4] and len(held) == 8
    assert len(train) == 24 and not torch.isin(omni.labels[train], torch.tensor([3, 4])).any()


def test_symbols_hold_alphabets_out_for_validation_episodes():
    omni = fake_omniglot()
    cfg = TrainConfig(data="omniglot", rotations=2, val_alphabets=("Greek",))
    data, episodes = symbols(cfg, omni=omni)
    # 6 training characters x 2 turns = 12 classes of 4 drawings; Greek's 8 drawings validate
    assert len(data.train) == 48 and data.train.labels.unique().tolist() == list(range(12))
    assert data.val.labels.unique().tolist() == [3, 4] and data.test is None
    assert not torch.isin(data.train.images[:, 14, 14], torch.tensor([3, 4], dtype=torch.uint8)).any()
    # 2-way episodes (Greek has two characters) on the validation images themselves
    assert episodes.images is data.val.images and episodes.way == 2 and len(episodes.references) == 100
    ref_chars = data.val.images[episodes.references][..., 14, 14]
    assert torch.equal(ref_chars, data.val.images[episodes.queries][..., 14, 14])
    assert (data.val.images[episodes.references][..., 14, 15] != data.val.images[episodes.queries][..., 14, 15]).all()
    # none held out: a final model; the threshold from unrotated training drawings, no episodes
    data, episodes = symbols(TrainConfig(data="omniglot", rotations=4, val_alphabets=()), omni=omni)
    assert episodes is None and len(data.train) == 128 and len(data.val) == 32


def test_digits_and_symbols_never_share_a_label():
    mnist = fake_mnist()
    chars = Symbols(rotation_classes(torch.zeros(3, 28, 28, dtype=torch.uint8), torch.tensor([0, 1, 2]), 2),
                    mnist.val)
    both = with_symbols(mnist, chars.train)
    assert both.train.labels.tolist() == mnist.train.labels.tolist() + [10, 12, 14, 11, 13, 15]
    assert both.val is mnist.val and both.test is mnist.test and both.full_train is mnist.full_train
    seen = both.excluding((7, 8, 9))  # excluded digits leave; no character is mistaken for one
    assert sorted(seen.train.labels.unique().tolist()) == list(range(7)) + list(range(10, 16))


SMALL_TRAIN = dict(max_steps=3, epochs=100, batch_size=16, eval_every=1e9, eval_size=50, amp="off",
                   channels_last=False)


def test_trainer_on_symbols_scores_validation_episodes():
    omni = fake_omniglot()
    cfg = TrainConfig(data="omniglot", loss="supcon", rotations=4, val_alphabets=("Greek",), **SMALL_TRAIN)
    data, episodes = symbols(cfg, omni=omni)
    trainer = Trainer(cfg, data=data, episodes=episodes, model_config=ModelConfig(**SMALL))
    assert trainer.num_classes == 24
    ev = list(trainer.run())[-1]
    assert ev.done and ev.test_pair_accuracy is None and ev.embeddings is None  # no test split
    assert 0 <= ev.val_one_shot_accuracy <= 1 and "val 1-shot" in ev.line()
    result = trainer.finalize(full_eval=True)
    assert {"threshold", "calibration", "val_pair_accuracy", "val_one_shot_accuracy"} <= set(result)
    assert result["val_one_shot_way"] == 2 and result["val_one_shot_episodes"] == 100
    ckpt = trainer.checkpoint(result)
    assert ckpt["train_config"]["data"] == "omniglot" and ckpt["train_config"]["val_alphabets"] == ("Greek",)
    assert ckpt["metrics"]["val_one_shot_accuracy"] == result["val_one_shot_accuracy"]
    # a final model (nothing held out) names its threshold's pairs for what they are
    cfg = TrainConfig(data="omniglot", loss="supcon", val_alphabets=(), **SMALL_TRAIN)
    trainer = Trainer(cfg, data=symbols(cfg, omni=omni)[0], model_config=ModelConfig(**SMALL))
    list(trainer.run())
    result = trainer.finalize()
    assert "train_pair_accuracy" in result and "val_pair_accuracy" not in result


@pytest.mark.parametrize("mining", ["random", "semihard"])
def test_trainer_on_digits_and_symbols_without_some_digits(mining):
    mnist = fake_mnist(n=96)
    chars = symbols(TrainConfig(data="omniglot", rotations=4, val_alphabets=("Greek",)), omni=fake_omniglot())[0]
    batches = []

    class Recording(Trainer):
        def _pair_loss(self, model, emb, labels, gen):
            batches.append(labels.detach().cpu())
            return super()._pair_loss(model, emb, labels, gen)

    cfg = TrainConfig(data="mnist+omniglot", rotations=4, val_alphabets=("Greek",), exclude_digits=(7, 8, 9),
                      mining=mining, **{**SMALL_TRAIN, "batch_size": 64})
    trainer = Recording(cfg, data=with_symbols(mnist, chars.train), model_config=ModelConfig(**SMALL))
    assert trainer.num_classes == NUM_CLASSES + 24
    ev = list(trainer.run())[-1]
    used = torch.cat(batches)
    assert not torch.isin(used, torch.tensor([7, 8, 9])).any() and (used >= NUM_CLASSES).any()
    assert torch.isfinite(torch.tensor(ev.loss)) and ev.seen_pair_accuracy is not None


def test_class_balanced_batches_reach_the_loss():
    batches = []

    class Recording(Trainer):
        def _pair_loss(self, model, emb, labels, gen):
            batches.append(labels.detach().cpu())
            return super()._pair_loss(model, emb, labels, gen)

    cfg = TrainConfig(data="omniglot", loss="supcon", rotations=4, val_alphabets=("Greek",), per_class=4,
                      **SMALL_TRAIN)
    data, episodes = symbols(cfg, omni=fake_omniglot())
    list(Recording(cfg, data=data, episodes=episodes, model_config=ModelConfig(**SMALL)).run())
    assert len(batches) == 3
    for labels in batches:  # 16 = 4 classes x 4 images
        assert torch.equal(torch.bincount(labels).unique(), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="fewer than"):  # 24 classes of 4 images: 64 / 2 = 32 classes needed
        Trainer(TrainConfig(data="omniglot", per_class=2, val_alphabets=("Greek",), rotations=4,
                            **{**SMALL_TRAIN, "batch_size": 64}), data=data, model_config=ModelConfig(**SMALL))


# -- the real background sets -------------------------------------------------------------------
def test_real_symbols_default_split(omniglot):
    data, episodes = symbols(TrainConfig(data="omniglot", rotations=4), omni=omniglot)
    # 242 characters minus Early_Aramaic (22) and Korean (40) = 180, x 4 turns, 20 drawings each
    assert len(data.train) == 180 * 4 * 20 and data.train.labels.max() == 180 * 4 - 1
    assert len(data.val) == 62 * 20
    assert episodes.way == 20 and episodes.references.shape == (100, 20)
