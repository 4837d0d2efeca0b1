"""siamese.augment: the defaults are the old jitter exactly; shear, stretch and stroke width do
what they say on images whose answer is worked out by hand."""
import pytest
import torch

from siamese.augment import distort, stroke_width
from siamese.config import TrainConfig
from siamese.data import random_affine

NONE = dict(degrees=0.0, scale=0.0, shift=0.0)  # no rotation, scale or shift


def test_defaults_are_the_old_jitter_draw_for_draw():
    x = torch.rand(6, 1, 28, 28)
    old = random_affine(x, torch.Generator().manual_seed(3))
    assert torch.equal(distort(x, torch.Generator().manual_seed(3)), old)
    assert torch.equal(distort(x, torch.Generator().manual_seed(3), **TrainConfig().distortions()), old)


def test_the_general_path_with_nothing_to_do_keeps_the_image():
    x = torch.rand(3, 1, 28, 28)
    # a shear range of 1e-12 takes the general path; pixel centres map onto themselves
    assert torch.allclose(distort(x, torch.Generator().manual_seed(0), **NONE, shear=1e-12), x, atol=1e-5)


def test_shear_slants_a_vertical_line_and_keeps_a_horizontal_one():
    g = torch.Generator().manual_seed(1)
    sh = (torch.rand(4, 6, generator=torch.Generator().manual_seed(1))[:, 3] * 2 - 1) * 0.3  # the draws
    x = torch.zeros(4, 1, 28, 28)
    x[:, 0, :, 14] = 1.0  # a vertical line through column 14
    y = distort(x, g, **NONE, shear=0.3)
    cols = torch.arange(28.0)
    for i in range(4):
        # output pixel (row r) samples input x - sh * y: row 0's centre is at y = -27/28 of the
        # half-height 14, so the line is found sh * 13.5 px to the left of column 14 there
        top = y[i, 0, 0]
        assert float((top * cols).sum() / top.sum()) == pytest.approx(14 - 13.5 * float(sh[i]), abs=1e-3)
    x = torch.zeros(4, 1, 28, 28)
    x[:, 0, 13, 4:24] = 1.0  # a horizontal line (row 13, the centre's half a pixel above)
    y = distort(x, torch.Generator().manual_seed(1), **NONE, shear=0.3)
    assert float(y[:, 0, 13].sum() / y.sum()) > 0.8


def test_stretch_widens_one_axis_and_narrows_the_other():
    k = 1 + (torch.rand(2, 6, generator=torch.Generator().manual_seed(2))[:, 2] * 2 - 1) * 0.2  # the draws
    x = torch.zeros(2, 1, 28, 28)
    x[0, 0, 14, 4:24] = 1.0  # a horizontal line, 20 px: its columns' spread is sqrt((20^2 - 1) / 12)
    x[1, 0, 4:24, 14] = 1.0  # a vertical one
    y = distort(x, torch.Generator().manual_seed(2), **NONE, stretch=0.2)
    pos = torch.arange(28.0)

    def spread(w):  # the standard deviation of positions weighted by ink
        w = w / w.sum()
        mean = (w * pos).sum()
        return float((w * (pos - mean) ** 2).sum().sqrt())

    line = ((20 ** 2 - 1) / 12) ** 0.5
    assert spread(y[0, 0].sum(0)) == pytest.approx(line * float(k[0]), abs=0.05)  # x scaled by k
    assert spread(y[1, 0].sum(1)) == pytest.approx(line / float(k[1]), abs=0.05)  # y by 1 / k


def test_stroke_width_blends_towards_dilation_or_erosion():
    x = torch.zeros(2, 1, 5, 5)
    x[:, 0, 1:4, 1:4] = 1.0  # a 3x3 square
    dil = torch.zeros(5, 5)
    dil[:, :] = 1.0  # its 3x3 dilation fills the 5x5 image
    ero = torch.zeros(5, 5)
    ero[2, 2] = 1.0  # its erosion leaves the centre
    y = stroke_width(x, torch.tensor([1.0, -1.0]))
    assert torch.equal(y[0, 0], dil) and torch.equal(y[1, 0], ero)
    y = stroke_width(x, torch.tensor([0.5, -0.5]))
    assert torch.allclose(y[0, 0], (x[0, 0] + dil) / 2) and torch.allclose(y[1, 0], (x[1, 0] + ero) / 2)
    assert torch.equal(stroke_width(x, torch.zeros(2)), x)


def test_a_shard_is_distorted_as_its_rows_of_the_whole_batch():
    x = torch.rand(10, 1, 28, 28)
    kw = dict(shear=0.3, stretch=0.1, stroke=0.5)
    whole = distort(x, torch.Generator().manual_seed(4), **kw)
    part = distort(x[4:7], torch.Generator().manual_seed(4), **kw, rows=(4, 10))
    assert torch.allclose(part, whole[4:7], atol=1e-6)


def test_bad_ranges_are_refused_and_the_cli_fills_them():
    from siamese.train import parse_args

    for bad in (dict(aug_shear=-0.1), dict(aug_scale=1.0), dict(aug_stretch=-0.1), dict(aug_stroke=1.5)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    cfg, _ = parse_args(["--aug-shear", "0.3", "--aug-stretch", "0.1", "--aug-stroke", "0.5", "--aug-degrees", "15"])
    assert cfg.distortions() == dict(degrees=15.0, scale=0.1, stretch=0.1, shear=0.3, shift=2.0, stroke=0.5)
