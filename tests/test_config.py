"""Config loading and validation: errors name the key or path before anything runs."""

import os

import pytest
import yaml

from pipeline import config as config_lib


def write_yaml(tmp_path, data, name="config.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def valid_raw(tmp_path, tiny_backbone):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tfrecord").write_bytes(b"")
    return {"pipeline_name": "p", "pipeline_root": str(tmp_path / "root"),
            "data": {"format": "tfrecord", "train": str(data / "train.tfrecord")},
            "backbone": {"handle": tiny_backbone, "input_size": 64}}


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


def test_out_of_range_value_names_the_key(valid_raw):
    valid_raw["train"] = {"finetune_fraction": 1.5}
    with pytest.raises(config_lib.ConfigError, match="train.finetune_fraction"):
        config_lib.from_dict(valid_raw)


def test_bad_format_lists_the_choices(valid_raw):
    valid_raw["data"]["format"] = "csv"
    with pytest.raises(config_lib.ConfigError, match="tfrecord, image_folder, float_pixels"):
        config_lib.from_dict(valid_raw)


def test_missing_training_files_name_key_and_path(tmp_path, valid_raw):
    valid_raw["data"]["train"] = str(tmp_path / "nowhere" / "*.tfrecord")
    with pytest.raises(config_lib.ConfigError, match=r"'data\.train': no files match.*nowhere"):
        config_lib.load(write_yaml(tmp_path, valid_raw))


def test_missing_backbone_says_how_to_make_one(tmp_path, valid_raw):
    valid_raw["backbone"]["handle"] = str(tmp_path / "no_backbone")
    with pytest.raises(config_lib.ConfigError, match="backbone export"):
        config_lib.load(write_yaml(tmp_path, valid_raw))


def test_remote_handles_are_not_checked_locally(tmp_path, valid_raw):
    valid_raw["backbone"]["handle"] = "https://tfhub.dev/some/model/1"
    config = config_lib.load(write_yaml(tmp_path, valid_raw))
    assert config.backbone.handle.startswith("https://")


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
    assert again.eval == config_lib.EvalConfig()  # not sent: a threshold change keeps the cache


def test_custom_config_is_validated_again(valid_raw):
    custom = config_lib.to_custom_config(config_lib.from_dict(valid_raw), ["train"])
    custom[config_lib.CUSTOM_CONFIG_KEY]["train"]["batch_size"] = 0
    with pytest.raises(config_lib.ConfigError, match="train.batch_size"):
        config_lib.from_custom_config(custom)


def test_image_folder_needs_class_subfolders(tmp_path, valid_raw):
    empty = tmp_path / "images"
    empty.mkdir()
    valid_raw["data"] = {"format": "image_folder", "train": str(empty)}
    with pytest.raises(config_lib.ConfigError, match="no <class>/<image>"):
        config_lib.load(write_yaml(tmp_path, valid_raw))


def test_not_a_mapping_is_rejected(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(config_lib.ConfigError, match="mapping"):
        config_lib.load(str(path))


def test_the_documented_example_config_is_valid():
    import yaml as _yaml
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "example.yaml")
    raw = _yaml.safe_load(open(path))
    config = config_lib.from_dict(raw)  # values only: its data paths are placeholders
    assert config.data.format == "tfrecord"
    documented = set(config_lib.Config().to_dict())
    assert set(raw) == documented  # every top-level key is documented there


def test_span_patterns_find_every_span_and_stay_out_of_input_base(tmp_path, valid_raw):
    from pipeline import pipeline
    for span in (1, 2):
        for split in ("train", "eval"):
            folder = tmp_path / f"span-{span}" / split
            folder.mkdir(parents=True)
            (folder / "part.tfrecord").write_bytes(b"")
    valid_raw["data"].update({"train": str(tmp_path / "span-{SPAN}" / "train"),
                              "eval": str(tmp_path / "span-{SPAN}" / "eval")})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(valid_raw))
    config = config_lib.load(str(path))
    assert len(config_lib.data_files(config.data.train, "tfrecord")) == 2
    base, input_config, _ = pipeline.example_gen_inputs(config.data)
    assert base == str(tmp_path)
    assert [s.pattern for s in input_config.splits] == ["span-{SPAN}/train/*",
                                                        "span-{SPAN}/eval/*"]


def test_span_settings_are_checked(valid_raw):
    valid_raw["data"].update({"train": "gs://b/span-{SPAN}/train", "eval": "gs://b/eval"})
    with pytest.raises(config_lib.ConfigError, match="both contain"):
        config_lib.from_dict(valid_raw)
    valid_raw["data"].update({"train": "gs://b/train", "eval": None, "span_window": 2})
    with pytest.raises(config_lib.ConfigError, match="span_window"):
        config_lib.from_dict(valid_raw)
