"""Configs: TOML + overrides -> frozen dataclasses; unknown keys and bad values are one-line errors."""

import tomllib

import pytest

from robnas.config import apply_overrides, config_from_dict, config_to_dict, load_config, to_toml
from robnas.pipeline.config import RunConfig
from robnas.eps import Eps
from robnas.errors import InvalidValueError, ParseError


def test_overrides_and_round_trip(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('seed = 3\n[train]\nepochs = 2\n[[models]]\nname = "darts_v2"\n[models.kwargs]\nC = 8\n')
    cfg = load_config(RunConfig, path, ["train.lr=0.1", 'eval.eps="2/255,8/255"', "train.adversarial.enabled=true"])
    assert cfg.seed == 3 and cfg.train.epochs == 2 and cfg.train.lr == 0.1
    assert cfg.eval.eps == (Eps.parse("2/255"), Eps.parse("8/255")) == (Eps.parse(2 / 255), Eps.parse(8 / 255))
    assert cfg.train.adversarial.enabled is True
    assert cfg.models[0].name == "darts_v2" and cfg.models[0].kwargs == {"C": 8}
    written = to_toml(config_to_dict(cfg))
    assert 'eps = ["2/255", "8/255"]' in written and 'eps = "8/255"' in written  # radii are written as labels
    again = config_from_dict(RunConfig, tomllib.loads(written))
    assert again == cfg


def test_radii_from_numbers_and_strings_and_ratios_from_fractions():
    cfg = load_config(RunConfig, None, ["eval.eps=[0.031, 0.0313725490196078]", "train.adversarial.alpha=0.01",
                                        'landscape.eps_range="0.5/255"', 'eval.alpha_ratio="1/4"'])
    assert cfg.eval.eps == (Eps.parse("0.031"), Eps.parse("8/255"))
    assert cfg.train.adversarial.alpha == Eps.parse("1/100") and cfg.landscape.eps_range == Eps.parse("1/510")
    assert cfg.eval.alpha_ratio == 0.25
    for bad in ["eval.eps=[-0.1]", 'eval.eps="8/0"', 'train.adversarial.eps="nan"']:
        with pytest.raises(InvalidValueError, match="write it like 8/255") as info:
            load_config(RunConfig, None, [bad])
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("override", ["train.epoch=3", "train.epochs=abc", "nosection.x=1", "train.epochs"])
def test_bad_overrides_are_one_line_errors(override):
    with pytest.raises(InvalidValueError) as info:
        load_config(RunConfig, None, [override])
    assert "\n" not in str(info.value)


def test_malformed_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train\nepochs = 2")
    with pytest.raises(ParseError):
        load_config(RunConfig, path)


def test_missing_config_file(tmp_path):
    with pytest.raises(InvalidValueError, match="does not exist"):
        load_config(RunConfig, tmp_path / "nope.toml")


def test_apply_overrides_does_not_mutate_input():
    base = {"train": {"epochs": 1}}
    out = apply_overrides(base, ["train.epochs=4"])
    assert base["train"]["epochs"] == 1 and out["train"]["epochs"] == 4
