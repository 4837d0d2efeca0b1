"""siamese.data: leaving digits out of the splits a model learns and is calibrated on."""
import torch

from siamese.data import MNIST, Split


def _split(labels):
    labels = torch.tensor(labels)
    return Split(labels.to(torch.uint8).view(-1, 1, 1).expand(-1, 28, 28).clone(), labels)


def test_split_without_drops_those_digits_in_order():
    s = _split([0, 7, 1, 8, 9, 2])
    kept = s.without((7, 8, 9))
    assert kept.labels.tolist() == [0, 1, 2]
    assert kept.images[:, 0, 0].tolist() == [0, 1, 2]  # images travel with their labels
    assert s.without(()) is s


def test_mnist_excluding_leaves_test_and_gallery_whole():
    data = MNIST(_split([0, 7, 1]), _split([8, 2, 9]), _split([7, 8, 9, 0]), _split([0, 7, 1, 8, 2, 9]))
    ex = data.excluding((7, 8, 9))
    assert ex.train.labels.tolist() == [0, 1] and ex.val.labels.tolist() == [2]
    assert ex.test is data.test and ex.full_train is data.full_train
    assert data.excluding(()) is data
