"""ROC, threshold and nearest-neighbour metrics against hand-checked values."""
import numpy as np
import pytest
import torch

from siamese import metrics as M


def t(x):
    return torch.tensor(x, dtype=torch.float32)


def test_roc_auc_by_hand():
    # same pairs at 0.1, 0.4; different at 0.35, 0.8: same is closer in 3 of 4 combinations
    d, same = t([0.1, 0.4, 0.35, 0.8]), t([1, 1, 0, 0])
    assert M.roc_auc(d, same) == pytest.approx(0.75)


def test_roc_auc_ties_count_half_and_extremes():
    assert M.roc_auc(t([0.5, 0.5]), t([1, 0])) == pytest.approx(0.5)
    assert M.roc_auc(t([0.1, 0.2, 0.9]), t([1, 1, 0])) == pytest.approx(1.0)
    assert M.roc_auc(t([0.9, 0.1]), t([1, 0])) == pytest.approx(0.0)


def test_roc_curve_points_by_hand():
    fpr, tpr, thr = M.roc_curve(t([0.1, 0.4, 0.35, 0.8]), t([1, 1, 0, 0]))
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1.0]
    assert tpr.tolist() == [0, 0.5, 0.5, 1.0, 1.0]
    assert thr[1:].tolist() == pytest.approx([0.1, 0.35, 0.4, 0.8])


def test_best_threshold_sits_between_the_classes():
    d, same = t([0.1, 0.2, 0.6, 0.9]), t([1, 1, 0, 0])
    assert M.best_threshold(d, same) == pytest.approx(0.4)
    assert M.accuracy_at(d, same, 0.4) == 1.0


def test_confusion_at_counts_by_hand():
    c = M.confusion_at(t([0.1, 0.4, 0.35, 0.8]), t([1, 1, 0, 0]), threshold=0.37)
    # predicted same: 0.1 (tp), 0.35 (fp); predicted different: 0.4 (fn), 0.8 (tn)
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (1, 1, 1, 1)
    assert c["accuracy"] == 0.5 and c["precision"] == 0.5 and c["recall"] == 0.5


def test_fit_logistic_recovers_parameters():
    g = torch.Generator().manual_seed(0)
    d = torch.rand(20000, generator=g) * 4
    p = torch.sigmoid(-3.0 * d + 6.0)
    y = (torch.rand(20000, generator=g) < p).float()
    slope, intercept = M.fit_logistic(d, y)
    assert slope == pytest.approx(-3.0, abs=0.25) and intercept == pytest.approx(6.0, abs=0.5)


def test_nearest_and_knn_by_hand():
    gallery = t([[0, 0], [10, 0], [0, 10]])
    labels = torch.tensor([0, 1, 2])
    query = t([[1, 1], [9, 2], [1, 8]])
    assert M.nearest(query, gallery)[:, 0].tolist() == [0, 1, 2]
    assert M.knn_accuracy(query, torch.tensor([0, 1, 1]), gallery, labels) == pytest.approx(2 / 3)
    # a weight of 0 on the first axis makes only the second one count
    assert M.nearest(t([[9, 0]]), gallery, weights=t([0, 1]))[0, 0].item() in (0, 1)
    assert M.nearest(t([[9, 9]]), gallery, weights=t([0, 1]))[0, 0].item() == 2


def test_roc_and_its_point_at_a_threshold_by_hand():
    d = torch.tensor([0.1, 0.2, 0.3, 0.4])
    same = torch.tensor([1.0, 0.0, 1.0, 0.0])
    r = M.roc(d, same)
    assert np.allclose(r.fpr, [0, 0, 0.5, 0.5, 1]) and np.allclose(r.tpr, [0, 0.5, 0.5, 1, 1])
    assert r.auc == pytest.approx(0.75)  # 0.5 * 0.5 + 0.5 * 1
    assert (r.positives, r.negatives) == (2, 2)
    assert r.at(0.05) == (0.0, 0.0)
    assert r.at(0.1) == (0.0, 0.5)  # 'same if d <= t': the pair at exactly 0.1 is called same
    assert r.at(0.25) == (0.5, 0.5)
    assert r.at(0.3) == (0.5, 1.0)
    assert r.at(9.0) == (1.0, 1.0)


def test_roc_point_agrees_with_confusion_at_everywhere():
    g = torch.Generator().manual_seed(0)
    d = torch.randn(500, generator=g).round(decimals=1)  # many ties
    same = (torch.rand(500, generator=g) < 0.4).float()
    r = M.roc(d, same)
    for t in torch.linspace(-3, 3, 41).tolist():
        c = M.confusion_at(d, same, t)
        fpr, tpr = r.at(t)
        assert fpr == pytest.approx(c["fp"] / r.negatives) and tpr == pytest.approx(c["tp"] / r.positives)


def test_worst_pairs_by_hand():
    labels = torch.tensor([0, 0, 1, 1])
    a = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    b = torch.tensor([1, 0, 3, 2, 2, 3, 0, 1])
    d = torch.tensor([0.1, 0.9, 0.5, 0.3, 2.0, 0.2, 3.0, 1.5])
    far, close = M.worst_pairs(d, a, b, labels, k=2)
    assert [(p.a, p.b, p.distance) for p in far] == [(1, 0, pytest.approx(0.9)), (2, 3, pytest.approx(0.5))]
    assert [(p.a, p.b, p.distance) for p in close] == [(1, 3, pytest.approx(0.2)), (3, 1, pytest.approx(1.5))]
    assert all(p.same for p in far) and not any(p.same for p in close)
    assert (close[0].label_a, close[0].label_b) == (0, 1)
