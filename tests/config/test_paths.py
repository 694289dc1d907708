"""The files a config names: missing inputs name the key and the path."""

import pytest

from hubtune import config as config_lib
from tests.conftest import write_yaml


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


def test_image_folder_needs_class_subfolders(tmp_path, valid_raw):
    empty = tmp_path / "images"
    empty.mkdir()
    valid_raw["data"] = {"format": "image_folder", "train": str(empty)}
    with pytest.raises(config_lib.ConfigError, match="no <class>/<image>"):
        config_lib.load(write_yaml(tmp_path, valid_raw))


def test_a_missing_curated_schema_is_named_with_how_to_write_it(tmp_path, valid_raw):
    valid_raw["data"]["schema"] = str(tmp_path / "schema.pbtxt")
    path = write_yaml(tmp_path, valid_raw)
    with pytest.raises(config_lib.ConfigError, match="'data.schema'.*hubtune schema freeze"):
        config_lib.load(path)
    assert config_lib.load(path, check_files=False).data.schema == str(tmp_path / "schema.pbtxt")
