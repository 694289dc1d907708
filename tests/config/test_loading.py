"""Building a Config from YAML, --set overrides and custom_config; errors name the key."""

import os

import pytest
import yaml

from hubtune import config as config_lib
from tests.conftest import write_yaml


def test_valid_config_loads_with_defaults(tmp_path, valid_raw):
    config = config_lib.load(write_yaml(tmp_path, valid_raw))
    assert config.data.format == "tfrecord"
    assert config.train.finetune_fraction == config_lib.TrainConfig().finetune_fraction
    assert config.metadata_path == os.path.join(valid_raw["pipeline_root"], "metadata.sqlite")


def test_unknown_key_is_named_with_a_suggestion(valid_raw):
    valid_raw["train"] = {"head_epoch": 3}
    with pytest.raises(config_lib.ConfigError, match=r"train\.head_epoch.*train\.head_epochs"):
        config_lib.from_dict(valid_raw)


def test_wrong_type_names_the_key(valid_raw):
    valid_raw["train"] = {"batch_size": "large"}
    with pytest.raises(config_lib.ConfigError, match=r"'train\.batch_size' must be int"):
        config_lib.from_dict(valid_raw)


def test_bool_is_not_an_int(valid_raw):
    valid_raw["train"] = {"batch_size": True}
    with pytest.raises(config_lib.ConfigError, match="train.batch_size"):
        config_lib.from_dict(valid_raw)


def test_set_overrides_parse_yaml_values(tmp_path, valid_raw):
    config = config_lib.load(write_yaml(tmp_path, valid_raw),
                             ["train.head_epochs=7", "head.hidden_units=[64, 32]",
                              "eval.min_accuracy=0.9"])
    assert config.train.head_epochs == 7
    assert config.head.hidden_units == [64, 32]
    assert config.eval.min_accuracy == 0.9


def test_set_override_of_unknown_key_fails(tmp_path, valid_raw):
    with pytest.raises(config_lib.ConfigError, match="train.epochs"):
        config_lib.load(write_yaml(tmp_path, valid_raw), ["train.epochs=3"])


def test_relative_paths_resolve_against_the_yaml_file(tmp_path, valid_raw):
    sub = tmp_path / "conf"
    sub.mkdir()
    valid_raw["data"]["train"] = "../data/train.tfrecord"
    valid_raw["pipeline_root"] = "root"
    config = config_lib.load(write_yaml(sub, valid_raw))
    assert config.data.train == str(tmp_path / "data" / "train.tfrecord")
    assert config.pipeline_root == str(sub / "root")


def test_custom_config_round_trip_carries_only_the_sections_sent(valid_raw):
    valid_raw["eval"] = {"min_accuracy": 0.9}
    config = config_lib.from_dict(valid_raw)
    again = config_lib.from_custom_config(
        config_lib.to_custom_config(config, config_lib.TRAINER_SECTIONS))
    for section in config_lib.TRAINER_SECTIONS:
        assert getattr(again, section) == getattr(config, section)
    # Not sent: a threshold change keeps the Trainer's cache.
    assert again.eval == config_lib.ThresholdsConfig()


def test_data_gate_settings_leave_transform_and_trainer_caches_alone(valid_raw):
    before = config_lib.to_custom_config(config_lib.from_dict(valid_raw),
                                         config_lib.TRAINER_SECTIONS)
    valid_raw["data"].update(schema="/curated/schema.pbtxt", max_label_drift=0.3)
    config = config_lib.from_dict(valid_raw)
    assert config.data.schema == "/curated/schema.pbtxt" and config.data.max_label_drift == 0.3
    for sections in (config_lib.TRANSFORM_SECTIONS, config_lib.TRAINER_SECTIONS):
        assert config_lib.to_custom_config(config, sections) == \
            config_lib.to_custom_config(config_lib.from_dict(
                dict(valid_raw, data=dict(valid_raw["data"], schema=None,
                                          max_label_drift=0.15))), sections)
    assert config_lib.to_custom_config(config, config_lib.TRAINER_SECTIONS) == before


def test_custom_config_is_validated_again(valid_raw):
    custom = config_lib.to_custom_config(config_lib.from_dict(valid_raw), ["train"])
    custom[config_lib.CUSTOM_CONFIG_KEY]["train"]["batch_size"] = 0
    with pytest.raises(config_lib.ConfigError, match="train.batch_size"):
        config_lib.from_custom_config(custom)


def test_not_a_mapping_is_rejected(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(config_lib.ConfigError, match="mapping"):
        config_lib.load(str(path))


def test_the_documented_example_config_is_valid():
    raw = yaml.safe_load(open(config_lib.EXAMPLE_YAML))
    config = config_lib.from_dict(raw)  # values only: its data paths are placeholders
    assert config.data.format == "tfrecord"
    documented = set(config_lib.Config().to_dict())
    assert set(raw) == documented  # every top-level key is documented there


def test_set_paths_resolve_against_the_working_directory(tmp_path, valid_raw, monkeypatch):
    config_dir, shell_dir = tmp_path / "configs", tmp_path / "shell"
    config_dir.mkdir()
    (shell_dir / "data").mkdir(parents=True)
    (shell_dir / "data" / "more.tfrecord").write_bytes(b"")
    path = write_yaml(config_dir, valid_raw)
    monkeypatch.chdir(shell_dir)
    config = config_lib.load(path, ["data.train=data/more.tfrecord", "pipeline_root=out",
                                    "train.embedding_cache_dir=cache"])
    assert config.data.train == str(shell_dir / "data" / "more.tfrecord")
    assert config.pipeline_root == str(shell_dir / "out")
    assert config.embedding_cache_path == str(shell_dir / "cache")


def test_the_embedding_cache_dir_resolves_against_the_yaml_file(tmp_path, valid_raw,
                                                                monkeypatch):
    valid_raw["train"] = {"embedding_cache_dir": "shared_cache"}
    folder = tmp_path / "configs"
    folder.mkdir()
    path = write_yaml(folder, valid_raw)
    monkeypatch.chdir(tmp_path)
    assert config_lib.load(path).embedding_cache_path == str(folder / "shared_cache")


def test_floats_in_exponent_notation_are_numbers(tmp_path, valid_raw):
    config = config_lib.load(write_yaml(tmp_path, valid_raw),
                             ["train.head_learning_rate=1e-4", "eval.min_accuracy=7.5e-1"])
    assert config.train.head_learning_rate == 1e-4 and config.eval.min_accuracy == 0.75
    with pytest.raises(config_lib.ConfigError, match="must be float, got 'fast'"):
        config_lib.load(write_yaml(tmp_path, valid_raw), ["train.head_learning_rate=fast"])


def test_a_renamed_key_says_what_to_write_instead(tmp_path):
    raw = {"pipeline_root": str(tmp_path), "data": {"train": str(tmp_path), "eval": str(tmp_path)},
           "backbone": {"handle": str(tmp_path), "average_flips": True}}
    with pytest.raises(config_lib.ConfigError,
                       match=r"'backbone.average_flips' \(renamed: write backbone.flip_views: 4"):
        config_lib.from_dict(raw)
