"""Value checks: out-of-range values and bad choices name the key."""

import pytest

from hubtune import config as config_lib


def test_out_of_range_value_names_the_key(valid_raw):
    valid_raw["train"] = {"finetune_fraction": 1.5}
    with pytest.raises(config_lib.ConfigError, match="train.finetune_fraction"):
        config_lib.from_dict(valid_raw)


def test_bad_format_lists_the_choices(valid_raw):
    valid_raw["data"]["format"] = "parquet"
    with pytest.raises(config_lib.ConfigError, match="tfrecord, image_folder, float_pixels, csv"):
        config_lib.from_dict(valid_raw)


def test_span_settings_are_checked(valid_raw):
    valid_raw["data"].update({"train": "gs://b/span-{SPAN}/train", "eval": "gs://b/eval"})
    with pytest.raises(config_lib.ConfigError, match="both contain"):
        config_lib.from_dict(valid_raw)
    valid_raw["data"].update({"train": "gs://b/train", "eval": None, "span_window": 2})
    with pytest.raises(config_lib.ConfigError, match="span_window"):
        config_lib.from_dict(valid_raw)


@pytest.mark.parametrize("name", ["..", ".", "../elsewhere", "a/b", "", "-x", "m odel"])
def test_a_model_name_that_could_leave_the_serving_dir_is_refused(valid_raw, name):
    valid_raw["serving"] = {"model_name": name}
    with pytest.raises(config_lib.ConfigError, match="serving.model_name"):
        config_lib.from_dict(valid_raw)


def test_ordinary_model_names_are_accepted(valid_raw):
    for name in ("elpv", "elpv-2.1_b", "7"):
        valid_raw["serving"] = {"model_name": name}
        assert config_lib.from_dict(valid_raw).serving.model_name == name


@pytest.mark.parametrize("drift", [0, -0.1, 1.5])
def test_label_drift_threshold_is_a_distance_between_distributions(valid_raw, drift):
    valid_raw["data"]["max_label_drift"] = drift
    with pytest.raises(config_lib.ConfigError, match="data.max_label_drift"):
        config_lib.from_dict(valid_raw)


def test_tflite_variants_are_checked_by_name(valid_raw):
    valid_raw["tflite"] = {"variants": ["float16", "int4"]}
    with pytest.raises(config_lib.ConfigError, match="'tflite.variants': unknown int4; choose "
                       "from float16, int8, dynamic"):
        config_lib.from_dict(valid_raw)
    valid_raw["tflite"] = {"variants": ["int8", "int8"]}
    with pytest.raises(config_lib.ConfigError, match="twice"):
        config_lib.from_dict(valid_raw)
    valid_raw["tflite"] = {"variants": ["int8"], "calibration_examples": 0}
    with pytest.raises(config_lib.ConfigError, match="tflite.calibration_examples"):
        config_lib.from_dict(valid_raw)
