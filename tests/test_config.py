"""siamese.config: the digits a run may leave out, checked and parsed."""
import pytest

from siamese.config import TrainConfig, check_digits, parse_digits


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
