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


def test_constant_schedule_holds_the_peak_rate_after_the_warm_up():
    from siamese.train import lr_factor, parse_args

    # warm-up 0.1: the same linear ramp; then cosine falls to 0 where constant stays at 1
    assert lr_factor(0.05, 0.1, "constant") == pytest.approx(0.5) == lr_factor(0.05, 0.1)
    assert [lr_factor(p, 0.1, "constant") for p in (0.1, 0.55, 1.0)] == [1.0, 1.0, 1.0]
    assert lr_factor(0.0, 0.0, "constant") == 1.0 and lr_factor(0.0, 0.0) == pytest.approx(1.0)
    cfg, _ = parse_args(["--schedule", "constant", "--warmup", "0"])
    assert (cfg.schedule, cfg.warmup) == ("constant", 0.0)
    assert parse_args([])[0].schedule == "cosine"
    for bad in (dict(schedule="step"), dict(warmup=1.0), dict(warmup=-0.1)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    # the last event reports the rate at the end of the run: the peak, not 0
    ends = {}
    for schedule in ("cosine", "constant"):
        cfg = TrainConfig(schedule=schedule, lr=1e-3, max_steps=4, epochs=100, batch_size=32, eval_every=1e9,
                          eval_size=20, amp="off", channels_last=False)
        ends[schedule] = list(Trainer(cfg, data=fake_mnist(), model_config=ModelConfig(**SMALL)).run())[-1].lr
    assert ends == {"cosine": pytest.approx(0.0, abs=1e-12), "constant": pytest.approx(1e-3)}


def test_keep_best_ends_with_the_weights_of_the_best_validation_score():
    from siamese.symbols import symbols

    from .test_symbols import fake_omniglot

    cfg = TrainConfig(data="omniglot", loss="supcon", rotations=4, val_alphabets=("Greek",), keep_best=True,
                      max_steps=3, epochs=100, batch_size=16, eval_every=0, amp="off", channels_last=False)
    data, episodes = symbols(cfg, omni=fake_omniglot())
    trainer = Trainer(cfg, data=data, episodes=episodes, model_config=ModelConfig(**SMALL))
    scores = {0: 0.5, 1: 0.9, 2: 0.6, 3: 0.7}  # by step: step 1's weights are the best
    trainer.probe = lambda model, amp=False: {"val_one_shot_accuracy": scores[trainer.step], "threshold": 0.5}
    weights = {}
    for ev in trainer.run():  # an event at every step (eval_every 0), then the last one
        if not ev.done:
            weights[ev.step] = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert ev.step == 3 and ev.val_one_shot_accuracy == 0.7  # the last event reports the last weights
    assert trainer.kept_step == 1 and trainer.step == 3
    assert all(torch.equal(v, weights[1][k]) for k, v in trainer.model.state_dict().items())
    assert not all(torch.equal(v, weights[2][k]) for k, v in trainer.model.state_dict().items())
    assert trainer.finalize()["kept_step"] == 1
    # the last weights are kept when they score best; no held-out alphabets: refused
    trainer = Trainer(cfg, data=data, episodes=episodes, model_config=ModelConfig(**SMALL))
    trainer.probe = lambda model, amp=False: {"val_one_shot_accuracy": trainer.step / 10, "threshold": 0.5}
    list(trainer.run())
    assert trainer.kept_step is None and "kept_step" not in trainer.finalize()
    for bad in (dict(data="mnist"), dict(data="omniglot", val_alphabets=())):
        with pytest.raises(ValueError, match="keep_best"):
            TrainConfig(keep_best=True, **bad)


def test_digit_classes_put_that_many_seen_digits_in_every_batch():
    from siamese.symbols import symbols, with_symbols

    from .test_symbols import fake_omniglot

    batches = []

    class Recording(Trainer):
        def _pair_loss(self, model, emb, labels, gen):
            batches.append(labels.detach().cpu())
            return super()._pair_loss(model, emb, labels, gen)

    chars = symbols(TrainConfig(data="omniglot", rotations=4, val_alphabets=("Greek",)), omni=fake_omniglot())[0]
    cfg = TrainConfig(data="mnist+omniglot", rotations=4, val_alphabets=("Greek",), exclude_digits=(7, 8, 9),
                      loss="supcon", per_class=4, digit_classes=3, max_steps=3, epochs=100, batch_size=64,
                      eval_every=1e9, eval_size=50, amp="off", channels_last=False)
    list(Recording(cfg, data=with_symbols(fake_mnist(n=96), chars.train), model_config=ModelConfig(**SMALL)).run())
    assert len(batches) == 3
    for labels in batches:  # 16 classes x 4: 3 of the seen digits 0-6, 13 of the 24 character classes
        classes = labels.unique()
        assert len(classes) == 16 and (classes < 10).sum() == 3 and (classes < 7).sum() == 3
    for bad in (dict(data="mnist+omniglot"), dict(data="omniglot", per_class=4),
                dict(data="mnist+omniglot", per_class=4, batch_size=16)):  # 4 classes a batch: not 3 + some
        with pytest.raises(ValueError, match="digit_classes"):
            TrainConfig(digit_classes=4, **bad)


def test_threshold_on_held_out_takes_the_held_out_alphabets_pairs():
    from siamese.symbols import symbols, with_symbols
    from siamese.train import held_out_threshold, parse_args

    from .test_symbols import fake_omniglot

    chars, episodes = symbols(TrainConfig(data="omniglot", rotations=4, val_alphabets=("Greek",)), omni=fake_omniglot())
    cfg = TrainConfig(data="mnist+omniglot", rotations=4, val_alphabets=("Greek",), exclude_digits=(7, 8, 9),
                      loss="supcon", threshold_on="held-out", max_steps=2, epochs=100, batch_size=32,
                      eval_every=1e9, eval_size=50, amp="off", channels_last=False)
    trainer = Trainer(cfg, data=with_symbols(fake_mnist(n=96), chars.train), episodes=episodes,
                      model_config=ModelConfig(**SMALL))
    list(trainer.run())
    result = trainer.finalize(full_eval=True)
    held = held_out_threshold(trainer.model, episodes)
    assert result["threshold"] == held["threshold"] and result["calibration"] == held["calibration"]
    assert result["held_out_pair_accuracy"] == held["held_out_pair_accuracy"] and "splits" in result
    assert parse_args(["--threshold-on", "held-out", "--data", "omniglot"])[0].threshold_on == "held-out"
    for bad in (dict(threshold_on="test", data="omniglot"), dict(threshold_on="held-out"),
                dict(threshold_on="held-out", data="omniglot", val_alphabets=())):
        with pytest.raises(ValueError, match="threshold_on"):
            TrainConfig(**bad)
