"""Config values are checked when the config is loaded: each bad one is one line naming where it came from, the key,
what is expected and what was given; ``sgtr train`` prints only sgtr's own errors as one line."""

from __future__ import annotations

import pytest

from sgtr.cli.main import main
from sgtr.engine.config import DEFAULTS, RULES, ConfigError, load_config
from sgtr.engine.trainer import charset_from_config, model_from_config
from sgtr.models.spec import ModelSpec


@pytest.mark.parametrize("override, expected", [
    ("trainer.max_steps=abc", "trainer.max_steps: expected a whole number ≥ 1, got 'abc'"),
    ("trainer.max_steps=3.5", "trainer.max_steps: expected a whole number ≥ 1, got 3.5"),
    ("trainer.max_steps=0", "trainer.max_steps: expected a whole number ≥ 1, got 0"),
    ("optim.lr=fast", "optim.lr: expected a number > 0, got 'fast'"),
    ("optim.lr=-1e-3", "optim.lr: expected a number > 0, got -0.001"),
    ("data.train={path: x}", "data.train: expected a list of training sources"),
    ("data.train=[{path: x, ratio: -1}]", "ratio must be a number ≥ 0, got -1"),
    ("data.train=[{ratio: 1}]", "needs a path"),
    ("data.batch_size=-4", "data.batch_size: expected a whole number ≥ 1, got -4"),
    ("data.batch_size=true", "data.batch_size: expected a whole number ≥ 1, got True"),
    ("optim.schedule=linear", "optim.schedule: expected one of onecycle, cosine, multistep, got 'linear'"),
    ("optim.warmup=1.5", "optim.warmup: expected a number ≥ 0 and ≤ 1, got 1.5"),
    ("trainer.precision=fast", "trainer.precision: expected one of auto, 32-true"),
    ("trainer.devices=0", "trainer.devices: expected auto, a device count ≥ 1"),
    ("model.name=nonet", "model.name: expected one of vr, sgtr"),
    ("model.options=3", "model.options: expected a mapping"),
    ("charset.spec=nowhere.txt", "charset.spec: expected a charset preset (36, 62, 94) or the path of a charset file"),
    ("charset.unknown=keep", "charset.unknown: expected one of drop, unk, got 'keep'"),
    ("data.resample=cubic", "data.resample: expected one of antialias, linear, got 'cubic'"),
    ("data.val=[a, b]", "data.val: expected a mapping of set names to dataset paths"),
    ("data=5", "data: expected a mapping of height, width"),
])
def test_a_bad_override_is_one_line_naming_key_value_and_expectation(override, expected):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    message = str(info.value)
    assert expected in message and "\n" not in message
    if override.split("=")[0] not in ("data",):
        assert message.endswith("(given on the command line)")


def test_a_bad_value_in_a_file_names_the_file(tmp_path):
    (tmp_path / "base.yaml").write_text("trainer:\n  max_steps: 20k\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\noptim:\n  lr: 3e-4\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: trainer\.max_steps: expected a whole number ≥ 1, got '20k'$"):
        load_config(tmp_path / "child.yaml")


def test_an_override_that_fixes_a_bad_file_value_is_accepted(tmp_path):
    (tmp_path / "c.yaml").write_text("trainer:\n  max_steps: 20k\n")
    assert load_config(tmp_path / "c.yaml", ["trainer.max_steps=20000"])["trainer"]["max_steps"] == 20000


def test_whole_numbers_written_as_floats_become_ints():
    config = load_config(None, ["trainer.max_steps=2e4", "data.batch_size=32.0"])
    assert config["trainer"]["max_steps"] == 20000 and isinstance(config["trainer"]["max_steps"], int)
    assert config["data"]["batch_size"] == 32 and isinstance(config["data"]["batch_size"], int)


def test_the_defaults_pass_every_rule():
    config = load_config(None)
    assert config["trainer"]["max_steps"] == 10000 and config["model"]["options"] == {}


def test_sgtr_train_prints_a_config_mistake_as_one_line(capsys):
    assert main(["train", "configs/vr_small.yaml", "optim.schedule=linear"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("sgtr train: error: optim.schedule: expected one of onecycle, cosine, multistep, got 'linear' "
                   "(given on the command line)")


def test_sgtr_train_names_a_training_source_that_cannot_be_opened(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    code = main(["train", "configs/vr_small.yaml", f"data.train=[{{path: {missing}}}]", "data.val={}",
                 f"trainer.out={tmp_path / 'run'}", "model.options={stem: [8], widths: [8, 8, 8], fpn_channels: 8, "
                 "order_channels: 8}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("sgtr train: error: data.train[0].path: ") and str(missing) in err
    assert "\n" not in err


def test_sgtr_train_names_a_label_file_line_with_too_many_columns(tmp_path, capsys):
    labels = tmp_path / "set" / "labels.tsv"
    labels.parent.mkdir()
    labels.write_text("a.png\tword\textra\n", encoding="utf-8")
    code = main(["train", "configs/vr_small.yaml", f"data.train=[{{path: {labels.parent}}}]", "data.val={}",
                 f"trainer.out={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and str(labels) in err and "tab-separated columns" in err and "\n" not in err


def test_sgtr_train_keeps_the_traceback_of_an_error_that_is_not_sgtrs(monkeypatch):
    def broken(config, resume=None):
        raise ValueError("a bug inside the engine")

    monkeypatch.setattr("sgtr.engine.trainer.train", broken)
    with pytest.raises(ValueError, match="a bug inside the engine"):
        main(["train", "configs/vr_small.yaml"])


def test_a_bad_model_option_is_one_line_from_sgtr_train(tmp_path, capsys):
    code = main(["train", "configs/vr_small.yaml", "model.options={widthz: [8]}", f"trainer.out={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith("sgtr train: error: model: unknown VR config field(s) widthz")


def test_the_trainer_builds_the_model_a_checkpoint_reader_rebuilds():
    config = load_config(None, ["model.name=crnn", "model.options={hidden: 8, layers: 1}", "data.height=32"])
    charset = charset_from_config(config)
    spec = ModelSpec.from_training(config, charset.to_config())  # what a reader makes of the saved checkpoint
    assert spec == ModelSpec.from_config(config, charset)
    trained, rebuilt = model_from_config(config, charset), spec.build()
    shapes = lambda model: {k: v.shape for k, v in model.state_dict().items()}  # noqa: E731
    assert shapes(trained) == shapes(rebuilt)


def test_every_config_key_has_a_rule():
    keys = {f"{section}.{name}" for section, values in DEFAULTS.items() for name in values}
    assert keys == set(RULES)


def test_a_bad_augment_value_in_a_file_names_the_file(tmp_path):
    (tmp_path / "c.yaml").write_text("data:\n  augment:\n    noise: null\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: data\.augment\.noise must be a number ≥ 0, got None$"):
        load_config(tmp_path / "c.yaml")
