"""The trainer on real MNIST on the CPU: it learns, reports events, and can be stopped."""
import threading

import pytest
import torch

from siamese.config import TrainConfig, short_run
from siamese.train import Trainer, lr_factor

pytestmark = pytest.mark.integration


def test_lr_schedule_warms_up_then_decays():
    assert lr_factor(0.0, 0.1) == pytest.approx(0.02)
    assert lr_factor(0.05, 0.1) == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1) == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1) == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("loss", ["bce", "contrastive", "triplet"])
def test_a_hundred_and_fifty_steps_learn_far_above_chance(mnist, loss):
    # The page's short-run settings (every in-batch pair, no jitter) learn fastest.
    cfg = TrainConfig(loss=loss, max_steps=150, epochs=100, eval_every=1e9, eval_size=1000, seed=0,
                      **short_run(loss))
    trainer = Trainer(cfg, data=mnist)
    events = list(trainer.run())
    assert len(events) == 1 and events[0].done and events[0].reason == "steps"
    assert trainer.step == 150
    # chance is 0.5; the blog's full run reached 0.96
    assert events[0].test_pair_accuracy > 0.9, events[0]
    assert events[0].embeddings.shape == (1000, 512)


def test_events_stream_and_stop_from_another_thread_keeps_the_model(mnist):
    # probe_share 1: every event carries the probe (by default a busy machine skips some)
    cfg = TrainConfig(epochs=100, batch_size=64, eval_every=0.3, eval_size=200, probe_share=1.0)
    trainer = Trainer(cfg, data=mnist)
    before = trainer.model.head.weight.detach().clone()
    events = []
    for ev in trainer.run():
        events.append(ev)
        if len(events) == 2:
            threading.Timer(0.05, trainer.stop).start()  # as a UI thread would
    assert events[-1].done and events[-1].reason == "stopped"
    assert not any(e.done for e in events[:-1])
    steps = [e.step for e in events]
    assert steps == sorted(steps) and steps[-1] > 0
    assert all(0 <= e.test_pair_accuracy <= 1 and e.pairs_per_s > 0 for e in events)
    assert not torch.equal(before, trainer.model.head.weight)  # it kept what it learned


def test_time_limit_is_respected(mnist):
    cfg = TrainConfig(epochs=100, max_seconds=2.0, batch_size=64, eval_every=1e9, eval_size=100)
    ev = list(Trainer(cfg, data=mnist).run())[-1]
    assert ev.reason == "time" and 2.0 <= ev.elapsed < 4.0


def test_retrained_model_becomes_an_independent_comparator(mnist):
    from siamese import Comparator

    trainer = Trainer(TrainConfig(max_steps=30, batch_size=64, eval_every=1e9, eval_size=100), data=mnist)
    list(trainer.run())
    ckpt = trainer.checkpoint(trainer.finalize(full_eval=False))
    cmp = Comparator.from_checkpoint_dict(ckpt)
    x = mnist.test.images[:4]
    before = cmp.embed(x)
    with torch.no_grad():
        trainer.model.head.weight.add_(1.0)  # the trainer's model moves on...
        for p in trainer.model.tower.parameters():
            p.add_(0.1)
    assert torch.equal(cmp.embed(x), before)  # ...the comparator does not
    assert cmp.threshold == ckpt["threshold"] and ckpt["train_config"]["max_steps"] == 30


def test_archives_alone_load_without_download(data_root, tmp_path):
    """A fresh machine (or CI) has only the four .gz archives: no download needed, none done."""
    import shutil

    from siamese.data import ARCHIVES, load_mnist

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ARCHIVES:
        shutil.copyfile(data_root / "MNIST" / "raw" / f, raw / f)
    data = load_mnist(tmp_path, download=False)
    assert len(data.full_train) == 60000 and len(data.test) == 10000


def test_concurrent_first_loads_do_not_read_half_extracted_files(data_root, tmp_path):
    """The page's reference thread and a retrain may both be first to load MNIST."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from siamese.data import ARCHIVES, load_mnist

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ARCHIVES:
        shutil.copyfile(data_root / "MNIST" / "raw" / f, raw / f)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: load_mnist(tmp_path, download=False), range(3)))
    assert all(len(r.test) == 10000 for r in results)


def test_excluded_digits_never_reach_training_or_validation(mnist, monkeypatch):
    """--exclude-digits 7,8,9: every batch the loss saw, the probe's validation images and the
    images the threshold was chosen on hold none of them; the probe scores them apart."""
    import siamese.evaluate as E

    unseen = torch.tensor([7, 8, 9])
    batches, threshold_sets = [], []

    class Recording(Trainer):
        def _pair_loss(self, model, emb, labels, gen):
            batches.append(labels.detach().cpu())
            return super()._pair_loss(model, emb, labels, gen)

    real_choose = E.choose_threshold

    def recording_choose(model, val, *args, **kwargs):
        threshold_sets.append(val.labels.cpu())
        return real_choose(model, val, *args, **kwargs)

    monkeypatch.setattr(E, "choose_threshold", recording_choose)
    cfg = TrainConfig(max_steps=8, batch_size=64, eval_every=1e9, eval_size=300, exclude_digits=(7, 8, 9))
    trainer = Recording(cfg, data=mnist)
    ev = list(trainer.run())[-1]
    result = E.evaluate(trainer.model.eval(), trainer.data, knn=False, unseen=cfg.exclude_digits)  # finalize's, less k-NN
    used = torch.cat(batches)
    assert len(batches) == 8 and not torch.isin(used, unseen).any()
    assert set(used.tolist()) == set(range(7))
    assert not torch.isin(trainer.train_labels, unseen).any()
    assert not torch.isin(trainer.probe.val.labels, unseen).any()
    assert threshold_sets and not any(torch.isin(v, unseen).any() for v in threshold_sets)
    assert torch.isin(trainer.probe.test.labels, unseen).any()  # the test subset keeps them
    assert 0 <= ev.seen_pair_accuracy <= 1 and 0 <= ev.unseen_pair_accuracy <= 1
    assert set(result["splits"]) >= {"seen", "unseen", "mixed"}
    ckpt = trainer.checkpoint(result)
    assert tuple(ckpt["train_config"]["exclude_digits"]) == (7, 8, 9)
    # a run without exclusions reports no split accuracies
    plain = list(Trainer(TrainConfig(max_steps=1, batch_size=16, eval_every=1e9, eval_size=100), data=mnist).run())
    assert plain[-1].seen_pair_accuracy is None and plain[-1].unseen_pair_accuracy is None
