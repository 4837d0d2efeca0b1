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


# -- options for digits it never saw (issue 14) --------------------------------------------------
OPTIONS = [
    {"normalize": True},
    {"batchnorm": True},
    {"final_relu": False},
    {"embedding_dim": 64},
    {"normalize": True, "batchnorm": True, "final_relu": False, "metric": "euclidean"},
]


def test_default_is_still_the_blog_network():
    net = SiameseNet()
    cfg = net.config
    assert (cfg.batchnorm, cfg.final_relu, cfg.normalize) == (False, True, False)
    # the blog's layers in the blog's order, so the shipped checkpoint's keys still fit
    kinds = [type(m).__name__ for m in net.tower]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "Conv2d", "ReLU", "Flatten",
                     "Linear", "ReLU"]
    assert sorted(net.state_dict()) == sorted(
        f"{m}.{p}" for m in ("tower.0", "tower.3", "tower.5", "tower.8", "head") for p in ("weight", "bias"))


def test_a_config_from_before_the_options_loads_as_the_blog():
    old = {"channels": [64, 128, 256], "embedding_dim": 512, "metric": "head"}
    assert ModelConfig.from_dict(old) == ModelConfig()


def test_normalize_gives_unit_descriptors():
    torch.manual_seed(0)
    net = SiameseNet(ModelConfig(normalize=True, metric="euclidean")).eval()
    e = net.embed(torch.rand(4, 1, 28, 28))
    assert torch.allclose(e.norm(dim=1), torch.ones(4), atol=1e-5)
    # Euclidean distance of unit vectors: sqrt(2 - 2 cos), so at most 2
    d = net.distance(e, e.flip(0))
    assert torch.allclose(d, (2 - 2 * (e * e.flip(0)).sum(1)).clamp_min(0).sqrt(), atol=1e-4)


def test_batchnorm_and_final_relu_change_the_tower():
    bn = SiameseNet(ModelConfig(batchnorm=True))
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in bn.tower) == 3
    assert all(c.bias is None for c in bn.tower if isinstance(c, torch.nn.Conv2d))
    linear_only = SiameseNet(ModelConfig(final_relu=False))
    assert isinstance(linear_only.tower[-1], torch.nn.Linear)
    torch.manual_seed(0)
    e = linear_only.embed(torch.rand(8, 1, 28, 28))
    assert (e < 0).any()  # no ReLU: descriptors may be negative


@pytest.mark.parametrize("options", OPTIONS)
def test_every_option_builds_and_round_trips_through_a_checkpoint(options, tmp_path):
    from siamese.checkpoint import load_checkpoint, save_checkpoint
    from siamese.compare import Comparator

    torch.manual_seed(0)
    net = SiameseNet(ModelConfig(**options))
    net.train()(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28))  # moves BatchNorm's statistics
    net.eval()
    path = save_checkpoint(tmp_path / "m.pt", net, threshold=0.5, calibration={"slope": -2.0, "intercept": 1.0})
    model, ckpt = load_checkpoint(path)
    assert model.config == net.config
    assert ModelConfig.from_dict(ckpt["model_config"]) == net.config
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(model.embed(x), net.embed(x), atol=1e-6)
    assert model.embed(x).shape == (3, net.config.embedding_dim)
    cmp = Comparator(model, ckpt)
    r = cmp.compare(x[0, 0].numpy(), x[1, 0].numpy())
    assert 0 <= r.same_probability <= 1 and r.same == (r.distance <= 0.5)


def test_the_pair_logit_matrix_is_the_heads_verdict_on_every_pair():
    torch.manual_seed(0)
    net = SiameseNet()
    emb = torch.randn(5, 512)
    m = net.pair_logit_matrix(emb)  # (5, 5)
    i, j = torch.triu_indices(5, 5, 1)
    logits = net.pair_logits(emb[i], emb[j])  # (10, 2) through the head itself
    assert torch.allclose(m[i, j], logits[:, 1] - logits[:, 0], atol=1e-4)
    assert torch.allclose(m, m.T, atol=1e-5)
