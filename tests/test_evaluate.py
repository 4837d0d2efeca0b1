"""The shipped checkpoint, scored honestly on the fixed MNIST test pairs."""
import numpy as np
import pytest
import torch

from siamese.checkpoint import load_checkpoint
from siamese.evaluate import evaluate
from siamese.preprocess import to_mnist

from .conftest import CHECKPOINT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(CHECKPOINT)


def test_shipped_checkpoint_scores_on_the_fixed_test_pairs(shipped, mnist):
    model, ckpt = shipped
    res = evaluate(model, mnist, knn=False)
    assert res["num_test_pairs"] == 20000
    assert res["pair_accuracy"] >= 0.99, res
    assert res["roc_auc"] >= 0.995
    assert res["one_shot_accuracy"] >= 0.97
    # the threshold is re-chosen on validation data and matches the one saved at training time
    assert res["threshold"] == pytest.approx(ckpt["threshold"], rel=1e-4)


def test_shipped_checkpoint_through_to_mnist(shipped, mnist):
    """The page feeds images through to_mnist; the model must not depend on MNIST's own
    preprocessing quirks."""
    model, ckpt = shipped
    images = torch.from_numpy(np.stack([to_mnist(im) for im in mnist.test.images.numpy()]))
    res = evaluate(model, mnist, knn=False, test_images=images, threshold=ckpt["threshold"])
    assert res["pair_accuracy"] >= 0.99, res


def test_shipped_checkpoint_card_matches_the_file(shipped):
    _, ckpt = shipped
    card = (CHECKPOINT.parent / "MODEL_CARD.md").read_text()
    assert f"{ckpt['metrics']['pair_accuracy']:.4f}" in card
    assert ckpt["model_config"] == {"channels": [64, 128, 256], "embedding_dim": 512, "metric": "head"}


def test_split_metrics_by_hand():
    """1-D descriptors: seen digits 0 and 1 far apart, unseen 7 and 8 close together (0.4 to 0.6
    apart, pairs of a digit 0.1 apart), threshold 1.0: on unseen pairs the ranking holds (AUC 1)
    but the seen digits' threshold calls every unseen pair 'same' (accuracy 0.5)."""
    from types import SimpleNamespace

    from siamese.evaluate import split_metrics

    emb = torch.tensor([[0.0], [0.1], [5.0], [5.1], [10.0], [10.1], [10.5], [10.6]])
    labels = torch.tensor([0, 0, 1, 1, 7, 7, 8, 8])
    model = SimpleNamespace(distance=lambda a, b: (a - b).abs().sum(-1))
    res = split_metrics(model, emb, labels, (7, 8), threshold=1.0)
    assert res["unseen_digits"] == [7, 8] and res["seen_digits"] == [0, 1, 2, 3, 4, 5, 6, 9]
    seen, unseen, mixed = res["seen"], res["unseen"], res["mixed"]
    assert seen["pair_accuracy"] == 1.0 and seen["roc_auc"] == 1.0 and seen["num_pairs"] == 8
    assert unseen["pair_accuracy"] == 0.5 and unseen["roc_auc"] == 1.0 and unseen["negative_accuracy"] == 0.0
    assert mixed["pair_accuracy"] == 1.0 and mixed["roc_auc"] == 1.0 and mixed["negative_accuracy"] == 1.0
    assert seen["one_shot_accuracy"] == unseen["one_shot_accuracy"] == mixed["one_shot_accuracy"] == 1.0
    assert (seen["one_shot_way"], unseen["one_shot_way"], mixed["one_shot_way"]) == (2, 2, 4)
