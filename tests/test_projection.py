import torch

from siamese.projection import PCA2


def test_pca_finds_the_spread_axes_by_hand():
    # points spread along x (±3) and less along y (±1) in 3-D: the axes are e_x, then e_y
    pts = torch.tensor([[3.0, 0, 0], [-3.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]])
    pca = PCA2(pts)
    xy = pca(pts)
    assert torch.allclose(xy.abs(), torch.tensor([[3.0, 0], [3.0, 0], [0, 1.0], [0, 1.0]]), atol=1e-5)


def test_alignment_keeps_the_map_from_mirroring():
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(200, 8, generator=g) * torch.tensor([5.0, 3, 1, 1, 1, 1, 1, 1])
    first = PCA2(pts)
    again = PCA2(-pts + 0.01 * torch.randn(200, 8, generator=g), align_to=first)
    # negating the data flips the projection; alignment makes the axes agree with the first map
    assert (again.axes * first.axes).sum(0).min() > 0.9
