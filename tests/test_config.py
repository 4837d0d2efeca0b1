"""siamese.config: the digits a run may leave out and the data it trains on, checked and parsed."""
import pytest

from siamese.config import TrainConfig, check_digits, parse_digits
from siamese.omniglot import BACKGROUND_ALPHABETS


def test_exclude_digits_default_empty_and_normalised():
    assert TrainConfig().exclude_digits == ()
    assert TrainConfig(exclude_digits=[9, 7, 8, 7]).exclude_digits == (7, 8, 9)
    assert TrainConfig(exclude_digits=(3,)).to_dict()["exclude_digits"] == (3,)
    # a config rebuilt from its dict (as the page's job does) keeps them
    cfg = TrainConfig(exclude_digits=(7, 8, 9))
    assert TrainConfig(**cfg.to_dict()).exclude_digits == (7, 8, 9)


@pytest.mark.parametrize("bad", [(10,), (-1,), tuple(range(10)), ("x",)])
def test_exclude_digits_refuses_bad_values(bad):
    with pytest.raises(ValueError):
        TrainConfig(exclude_digits=bad)


def test_parse_digits():
    assert parse_digits("7,8,9") == (7, 8, 9)
    assert parse_digits(" 9, 7 ,8,") == (7, 8, 9)
    assert parse_digits("") == () and parse_digits("none") == ()
    for bad in ("7;8", "a", "0,1,2,3,4,5,6,7,8,9", "12"):
        with pytest.raises(ValueError):
            parse_digits(bad)
    assert check_digits([0]) == (0,)


def test_mining_is_checked():
    assert TrainConfig().mining == "random"
    assert TrainConfig(mining="hard").mining == "hard"
    with pytest.raises(ValueError):
        TrainConfig(mining="hardest")


def test_presets_build_valid_configs():
    from siamese.config import PRESETS, ModelConfig, preset

    assert PRESETS["blog"] == {"model": {}, "train": {}}  # the shipped network, unchanged
    for name in PRESETS:
        model, train = preset(name)
        assert isinstance(model, ModelConfig)
        TrainConfig(**train)  # every field is a TrainConfig field with a valid value
    with pytest.raises(KeyError, match="generalise"):
        preset("nope")


def test_data_settings_default_to_mnist_and_resolve_for_omniglot():
    from siamese.config import DEFAULT_VAL_ALPHABETS

    d = TrainConfig()
    assert (d.data, d.rotations, d.val_alphabets) == ("mnist", 1, ())
    o = TrainConfig(data="omniglot", rotations=4)
    assert o.val_alphabets == DEFAULT_VAL_ALPHABETS == ("Early_Aramaic", "Korean")
    assert TrainConfig(data="omniglot", val_alphabets=()).val_alphabets == ()
    # names come back in the canonical order, once each; the dict round trip (the page's job) keeps them
    m = TrainConfig(data="mnist+omniglot", val_alphabets=["Tagalog", "Greek", "Greek"], exclude_digits=(7, 8, 9))
    assert m.val_alphabets == ("Greek", "Tagalog")
    assert TrainConfig(**m.to_dict()) == m and TrainConfig(**o.to_dict()) == o


@pytest.mark.parametrize("bad", [dict(data="emnist"), dict(data="omniglot", rotations=3),
                                 dict(rotations=4), dict(val_alphabets=("Greek",)),
                                 dict(data="omniglot", val_alphabets=("Klingon",)),
                                 dict(data="omniglot", exclude_digits=(7,)),
                                 dict(data="mnist+omniglot", val_alphabets=BACKGROUND_ALPHABETS)])
def test_data_settings_refuse_what_does_not_fit(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_parse_alphabets_and_describe_data():
    from siamese.config import describe_data, parse_alphabets

    assert parse_alphabets("Korean, Balinese") == ("Balinese", "Korean")
    assert parse_alphabets("none") == () == parse_alphabets(" ")
    with pytest.raises(ValueError, match="Japanese_"):  # the error lists the known names
        parse_alphabets("Japanese")
    assert describe_data({}) == "MNIST digits"  # checkpoints from before the field
    assert describe_data(TrainConfig(exclude_digits=(7, 8, 9)).to_dict()) == "MNIST digits without 7,8,9"
    assert describe_data(TrainConfig(data="omniglot", rotations=4).to_dict()) == (
        "Omniglot background characters x 4 rotations (held out for validation: Early_Aramaic, Korean)")
    assert describe_data(TrainConfig(data="mnist+omniglot", val_alphabets=()).to_dict()) == (
        "MNIST digits + Omniglot background characters (all 8 alphabets)")


def test_per_class_must_split_the_batch_into_classes():
    assert TrainConfig().per_class is None
    assert TrainConfig(batch_size=256, per_class=4).per_class == 4
    for bad in (1, 3, 129):
        with pytest.raises(ValueError, match="per_class"):
            TrainConfig(batch_size=256, per_class=bad)
