"""The trainer with the issue-14 options, on random stand-in digits (no MNIST): each loss and
mining runs, supcon's model normalises, and the model options reach the trained network."""
import pytest
import torch

from siamese.config import ModelConfig, TrainConfig
from siamese.data import MNIST, Split
from siamese.train import Trainer


def fake_mnist(n=64):
    g = torch.Generator().manual_seed(0)

    def split(k):
        return Split(torch.randint(0, 256, (k, 28, 28), dtype=torch.uint8, generator=g),
                     torch.arange(k) % 10)

    train = split(n)
    return MNIST(train=train, val=split(40), test=split(40), full_train=train)


SMALL = dict(channels=(4, 8, 8), embedding_dim=16)


@pytest.mark.parametrize("loss,mining", [("triplet", "hard"), ("triplet", "semihard"), ("contrastive", "hard"),
                                         ("bce", "hard"), ("supcon", "random")])
def test_each_loss_and_mining_trains_a_few_steps(loss, mining):
    cfg = TrainConfig(loss=loss, mining=mining, max_steps=3, epochs=100, batch_size=32, eval_every=1e9,
                      eval_size=20, amp="off", channels_last=False, exclude_digits=(7, 8, 9), margin=0.2)
    trainer = Trainer(cfg, data=fake_mnist(), model_config=ModelConfig(**SMALL, normalize=True))
    before = [p.detach().clone() for p in trainer.model.tower.parameters()]
    ev = list(trainer.run())[-1]
    assert ev.done and trainer.step == 3 and torch.isfinite(torch.tensor(ev.loss))
    assert any(not torch.equal(b, p) for b, p in zip(before, trainer.model.tower.parameters()))


def test_supcon_always_normalises_and_is_scored_by_euclidean_distance():
    cfg = TrainConfig(loss="supcon", max_steps=1, eval_every=1e9, eval_size=20, amp="off")
    trainer = Trainer(cfg, data=fake_mnist(), model_config=ModelConfig(**SMALL))
    assert trainer.model.config.normalize and trainer.model.config.metric == "euclidean"


def test_model_options_reach_the_trained_network():
    cfg = TrainConfig(loss="triplet", max_steps=1, eval_every=1e9, eval_size=20, amp="off")
    mc = ModelConfig(**SMALL, batchnorm=True, final_relu=False)
    trainer = Trainer(cfg, data=fake_mnist(), model_config=mc)
    assert trainer.model.config.batchnorm and not trainer.model.config.final_relu
    assert not trainer.model.config.normalize  # only supcon forces it


def test_bad_temperature_is_refused():
    with pytest.raises(ValueError):
        TrainConfig(loss="supcon", temperature=0.0)
