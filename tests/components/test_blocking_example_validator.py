"""BlockingExampleValidator: every bad example and empty split is named."""

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2

from hubtune import config as config_lib
from hubtune.components import blocking_example_validator
from tests.conftest import example, png_bomb, png_bytes, random_images


def _data(**kw):
    return config_lib.data_from_dict(kw)


def _write_examples(path, examples):
    with tf.io.TFRecordWriter(path, options="GZIP") as w:
        for ex in examples:
            w.write(ex.SerializeToString())
    return path


def test_the_validator_names_each_corrupt_example(tmp_path):
    good = png_bytes(random_images(1)[0])
    path = _write_examples(str(tmp_path / "data.gz"), [
        example({"image": good, "label": b"ok"}),
        example({"image": b"\x89PNG\r\n broken", "label": b"defective"}),
        example({"image": good, "label": b"ok"}),
        example({"label": b"ok"}),
    ])
    problems = blocking_example_validator.check_split_examples([path], "eval", _data(train="x"))
    assert len(problems) == 2
    assert problems[0].startswith("split 'eval', example #1 (label 'defective')")
    assert "does not decode" in problems[0]
    assert "example #3" in problems[1] and "no 'image' feature" in problems[1]


def test_the_validator_reports_an_empty_split(tmp_path):
    path = _write_examples(str(tmp_path / "empty.gz"), [])
    problems = blocking_example_validator.check_split_examples([path], "train", _data(train="x"))
    assert problems == ["split 'train' has no examples: check data.train (or data.eval_percent)"]


def test_the_validator_checks_float_pixel_length(tmp_path):
    data = _data(train="x", format="float_pixels", image_key="px", label_key="y",
                 pixels={"height": 2, "width": 2, "channels": 1})
    path = _write_examples(str(tmp_path / "px.gz"), [
        example({"px": [0.1] * 4, "y": 1}), example({"px": [0.1] * 3, "y": 2})])
    problems = blocking_example_validator.check_split_examples([path], "train", data)
    assert len(problems) == 1
    assert "example #1 (label '2')" in problems[0] and "3 floats, expected 4" in problems[0]


def test_the_validator_caps_the_listing(tmp_path):
    bad = [example({"image": b"nope", "label": b"x"}) for _ in range(15)]
    path = _write_examples(str(tmp_path / "bad.gz"), bad)
    problems = blocking_example_validator.check_split_examples([path], "train", _data(train="x"))
    assert len(problems) == blocking_example_validator.MAX_LISTED_EXAMPLES + 1
    assert problems[-1] == "... and 5 more in split 'train'"


def test_anomalies_are_described_with_feature_and_kind():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["label"]
    info.description = "Examples contain values missing from the schema: cracked (~5%)."
    info.reason.add(type=anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES)
    lines = blocking_example_validator.describe_anomalies("eval", anomalies)
    assert lines == ["split 'eval', feature 'label' [ENUM_TYPE_UNEXPECTED_STRING_VALUES]: "
                     "Examples contain values missing from the schema: cracked (~5%)."]


def test_an_image_over_the_pixel_cap_is_named_without_decoding_it(tmp_path):
    path = _write_examples(str(tmp_path / "data.gz"), [
        example({"image": png_bytes(random_images(1)[0]), "label": b"ok"}),
        example({"image": png_bomb(3000, 2000), "label": b"defective"}),
    ])
    problems = blocking_example_validator.check_split_examples(
        [path], "train", _data(train="x", max_image_pixels=5_000_000))
    [problem] = problems
    assert problem.startswith("split 'train', example #1 (label 'defective')")
    assert "3000x2000 = 6,000,000 pixels" in problem and "data.max_image_pixels" in problem


def test_eval_labels_the_train_split_never_has_are_named():
    labels = {"train": {"ok": [0, 1, 2], "defective": [3]},
              "eval": {"ok": [0], "cracked": [1, 4], "defective": [2]}}
    [problem] = blocking_example_validator.unseen_labels(labels)
    assert problem.startswith("split 'eval', examples #1, #4: label 'cracked'")
    assert "never occurs in the train split" in problem
    assert blocking_example_validator.unseen_labels({"train": {"a": [0]}, "eval": {"a": [0]}}) == []


def test_the_scan_reports_each_examples_label(tmp_path):
    image = png_bytes(random_images(1)[0])
    path = _write_examples(str(tmp_path / "data.gz"), [
        example({"image": image, "label": 3}), example({"image": image, "label": 1}),
        example({"image": image, "label": 3})])
    problems, labels = blocking_example_validator.scan_split([path], "eval", _data(train="x"))
    assert problems == [] and labels == {"3": [0, 2], "1": [1]}


def _label_stats(labels):
    import pandas as pd
    import tensorflow_data_validation as tfdv
    return tfdv.generate_statistics_from_dataframe(pd.DataFrame({"label": labels}))


def _label_schema(labels):
    import tensorflow_data_validation as tfdv
    return tfdv.infer_schema(_label_stats(labels))


def test_label_drift_beyond_the_threshold_is_named_with_the_fix():
    baseline = ["functional"] * 70 + ["defective"] * 30
    schema = _label_schema(baseline)
    drifted = ["functional"] * 40 + ["defective"] * 60   # L-inf distance 0.30
    problems = blocking_example_validator.label_drift_problems(
        _label_stats(drifted), _label_stats(baseline), schema,
        _data(train="x", max_label_drift=0.15))
    assert len(problems) == 1
    assert "split 'train', feature 'label' [COMPARATOR_L_INFTY_HIGH]" in problems[0]
    assert "0.3" in problems[0] and "data.max_label_drift" in problems[0]
    # The same change within a looser threshold passes, and so does unchanged data.
    assert blocking_example_validator.label_drift_problems(
        _label_stats(drifted), _label_stats(baseline), schema,
        _data(train="x", max_label_drift=0.35)) == []
    assert blocking_example_validator.label_drift_problems(
        _label_stats(baseline), _label_stats(baseline), schema,
        _data(train="x", max_label_drift=0.01)) == []


def test_label_drift_reports_only_comparator_anomalies():
    """Other anomalies (here a new label) are ExampleValidator's to report, not repeated."""
    baseline = ["functional"] * 50 + ["defective"] * 50
    current = ["functional"] * 50 + ["defective"] * 45 + ["cracked"] * 5
    problems = blocking_example_validator.label_drift_problems(
        _label_stats(current), _label_stats(baseline), _label_schema(baseline),
        _data(train="x", max_label_drift=0.5))
    assert problems == []
