"""The network: shapes, weight sharing, and the head's distance."""
import pytest
import torch

from siamese.config import ModelConfig
from siamese.model import SiameseNet, same_probability_from_logits


@pytest.fixture
def net():
    torch.manual_seed(0)
    return SiameseNet().eval()


def test_blog_architecture_shapes(net):
    x = torch.rand(5, 1, 28, 28)
    assert net.embed(x).shape == (5, 512)
    assert net(x, x.flip(0)).shape == (5, 2)
    convs = [m for m in net.tower if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(7, 7), (5, 5), (5, 5)]
    assert [c.out_channels for c in convs] == [64, 128, 256]


def test_uint8_input_matches_float(net):
    x = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    assert torch.allclose(net.embed(x), net.embed(x.float().unsqueeze(1) / 255), atol=1e-6)


def test_symmetric_and_weight_shared(net):
    a, b = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    assert torch.allclose(net(a, b), net(b, a), atol=1e-6)
    ea, eb = net.embed(a), net.embed(b)
    assert torch.allclose(net.distance(ea, eb), net.distance(eb, ea))
    assert torch.allclose(net.distance(ea, ea), torch.zeros(4))


def test_head_distance_gives_the_head_probability(net):
    ea, eb = net.embed(torch.rand(6, 1, 28, 28)), net.embed(torch.rand(6, 1, 28, 28))
    c = net.head.bias[1] - net.head.bias[0]
    p_head = same_probability_from_logits(net.pair_logits(ea, eb))
    assert torch.allclose(p_head, torch.sigmoid(c - net.distance(ea, eb)), atol=1e-5)


def test_euclidean_metric_is_the_plain_distance():
    net = SiameseNet(ModelConfig(metric="euclidean"))
    a, b = torch.zeros(1, 512), torch.zeros(1, 512)
    b[0, :2] = torch.tensor([3.0, 4.0])
    assert net.distance(a, b).item() == pytest.approx(5.0)
    assert net.metric_weights() is None


def test_config_round_trip_and_validation():
    cfg = ModelConfig(channels=(8, 16, 32), embedding_dim=64, metric="euclidean")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        ModelConfig.from_dict({"channels": [1, 2, 3], "bogus": 1})
    with pytest.raises(ValueError):
        ModelConfig(metric="cosine")
