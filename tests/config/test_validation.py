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


def test_text_key_makes_the_config_a_text_one(valid_raw):
    valid_raw["data"].update({"format": "csv", "text_key": "review"})
    config = config_lib.from_dict(valid_raw)
    assert config.data.modality == config_lib.TEXT and config.data.input_key == "review"
    assert config.data.image_key is None
    assert config.backbone.max_seq_length == 128
    # It survives the trip through TFX custom_config.
    again = config_lib.from_custom_config(
        config_lib.to_custom_config(config, config_lib.TRAINER_SECTIONS))
    assert again.data.modality == config_lib.TEXT and again.data.image_key is None


def test_images_stay_the_default_modality(valid_raw):
    config = config_lib.from_dict(valid_raw)
    assert config.data.modality == config_lib.IMAGE and config.data.input_key == "image"


@pytest.mark.parametrize("data, message", [
    ({"image_key": "image", "text_key": "review"}, "set only one of 'data.image_key'"),
    ({"image_key": "", "text_key": ""}, "neither is set"),
    ({"format": "image_folder", "text_key": "review"}, "holds images, but 'data.text_key'"),
    ({"format": "csv"}, "'data.format' csv is for text"),
])
def test_modality_mistakes_are_refused_before_anything_runs(valid_raw, data, message):
    valid_raw["data"].update(data)
    with pytest.raises(config_lib.ConfigError, match=message.replace(".", r"\.")):
        config_lib.from_dict(valid_raw)


def test_text_only_and_image_only_settings_are_refused_on_the_other_modality(valid_raw):
    valid_raw["backbone"]["preprocessor"] = "/x/preprocessor"
    with pytest.raises(config_lib.ConfigError, match="preprocessor' is a text model"):
        config_lib.from_dict(valid_raw)
    del valid_raw["backbone"]["preprocessor"]
    valid_raw["data"].update({"format": "csv", "text_key": "review"})
    valid_raw["tflite"] = {"variants": ["int8"]}
    with pytest.raises(config_lib.ConfigError, match="tflite.variants"):
        config_lib.from_dict(valid_raw)
    valid_raw["tflite"] = {"variants": []}
    valid_raw["backbone"]["max_seq_length"] = 4
    with pytest.raises(config_lib.ConfigError, match="max_seq_length"):
        config_lib.from_dict(valid_raw)
    valid_raw["backbone"].update({"max_seq_length": 128, "flip_views": 4})
    with pytest.raises(config_lib.ConfigError, match="flip_views' averages image features"):
        config_lib.from_dict(valid_raw)


@pytest.mark.parametrize("views", [0, 2, 16])
def test_flip_views_are_1_4_or_8(valid_raw, views):
    valid_raw["backbone"]["flip_views"] = views
    with pytest.raises(config_lib.ConfigError, match=r"'backbone.flip_views' must be one of"):
        config_lib.from_dict(valid_raw)
    valid_raw["backbone"]["flip_views"] = 1
    valid_raw["tune"] = {"backbones": [{"handle": "/b/lite0", "flip_views": views}]}
    with pytest.raises(config_lib.ConfigError, match=r"tune.backbones\[0\].flip_views"):
        config_lib.from_dict(valid_raw)


def test_tuner_candidates_are_told_apart_by_handle(valid_raw):
    valid_raw["tune"] = {"backbones": [{"handle": "/b/lite0", "input_size": 224},
                                       {"handle": "/b/lite0", "input_size": 300}]}
    with pytest.raises(config_lib.ConfigError, match="lists a handle twice"):
        config_lib.from_dict(valid_raw)
    valid_raw["tune"]["backbones"][1]["handle"] = "/b/lite0-copy"
    assert [b.input_size for b in config_lib.from_dict(valid_raw).tune.backbones] == [224, 300]


def test_phase2_learning_rate_is_fixed_or_follows_the_head(valid_raw):
    valid_raw["train"] = {"head_learning_rate": 0.002, "finetune_lr_factor": 0.1}
    assert config_lib.from_dict(valid_raw).train.phase2_learning_rate == pytest.approx(2e-4)
    valid_raw["train"]["finetune_learning_rate"] = 1e-5  # a tuned head rate no longer moves it
    assert config_lib.from_dict(valid_raw).train.phase2_learning_rate == 1e-5
    valid_raw["train"]["finetune_learning_rate"] = -1e-5
    with pytest.raises(config_lib.ConfigError, match="train.finetune_learning_rate"):
        config_lib.from_dict(valid_raw)
