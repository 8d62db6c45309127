"""The typed run config: presets, files, overrides, and the saved copy that rebuilds a run."""
import json

import pytest

from musicgan.config import PRESETS, RunConfig, apply_overrides, load_config, preset, save_config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_and_named(name):
    cfg = preset(name)
    assert cfg.name == name
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_tiny_preset_is_small_and_synthetic():
    cfg = preset("tiny")
    assert cfg.data.source == "synthetic" and cfg.train.steps < 20 and cfg.model.g_channels <= 8


def test_overrides_are_typed():
    cfg = apply_overrides(preset("cpu"), ["model.generator=gru", "train.steps=12", "optim.lr_g=1e-3",
                                          "train.progress=false"])
    assert (cfg.model.generator, cfg.train.steps, cfg.optim.lr_g, cfg.train.progress) == ("gru", 12, 1e-3, False)


@pytest.mark.parametrize("item, message", [
    ("model.generator=transformer", "model.generator must be one of"),
    ("train.steps=ten", "train.steps must be an integer"),
    ("train.steps=0", r"train.steps must lie in \[1, inf\]"),
    ("model.colour=red", "unknown config key 'model.colour'"),
    ("steps=3", "override must look like section.key=value"),
    ("optim.beta2=1.0", "optim.beta2 must be < 1"),
])
def test_bad_overrides_name_the_key(item, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(preset("cpu"), [item])


def test_json_and_toml_files_override_their_preset(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"preset": "tiny", "train": {"steps": 9}}))
    (tmp_path / "b.toml").write_text('preset = "gpu"\n[model]\ngenerator = "lstm"\n')
    a, b = load_config(str(tmp_path / "a.json")), load_config(str(tmp_path / "b.toml"))
    assert a.train.steps == 9 and a.model == preset("tiny").model
    assert b.model.generator == "lstm" and b.optim == preset("gpu").optim


def test_saved_config_loads_back_unchanged(tmp_path):
    cfg = apply_overrides(preset("tiny"), ["loss.kind=wgan_gp", "loss.pack=2"])
    save_config(cfg, tmp_path / "config.json")
    assert load_config(str(tmp_path / "config.json")) == cfg


def test_unknown_config_name_is_a_clear_error():
    with pytest.raises(ValueError, match="config must be a preset"):
        load_config("no-such-preset")
