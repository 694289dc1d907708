"""Custom components: data gate checks, label-domain pinning, atomic push, image folders."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components import atomic_pusher, data_gate, image_folder_example_gen, label_schema_gen
from pipeline import config as config_lib
from tests.conftest import example, png_bytes, random_images


def _data(**kw):
    return config_lib.data_from_dict(kw)


def _write_examples(path, examples):
    with tf.io.TFRecordWriter(path, options="GZIP") as w:
        for ex in examples:
            w.write(ex.SerializeToString())
    return path


def test_gate_names_each_corrupt_example(tmp_path):
    good = png_bytes(random_images(1)[0])
    path = _write_examples(str(tmp_path / "data.gz"), [
        example({"image": good, "label": b"ok"}),
        example({"image": b"\x89PNG\r\n broken", "label": b"defective"}),
        example({"image": good, "label": b"ok"}),
        example({"label": b"ok"}),
    ])
    problems = data_gate.check_split_examples([path], "eval", _data(train="x"))
    assert len(problems) == 2
    assert problems[0].startswith("split 'eval', example #1 (label 'defective')")
    assert "does not decode" in problems[0]
    assert "example #3" in problems[1] and "no 'image' feature" in problems[1]


def test_gate_reports_an_empty_split(tmp_path):
    path = _write_examples(str(tmp_path / "empty.gz"), [])
    problems = data_gate.check_split_examples([path], "train", _data(train="x"))
    assert problems == ["split 'train' has no examples: check data.train (or data.eval_percent)"]


def test_gate_checks_float_pixel_length(tmp_path):
    data = _data(train="x", format="float_pixels", image_key="px", label_key="y",
                 pixels={"height": 2, "width": 2, "channels": 1})
    path = _write_examples(str(tmp_path / "px.gz"), [
        example({"px": [0.1] * 4, "y": 1}), example({"px": [0.1] * 3, "y": 2})])
    problems = data_gate.check_split_examples([path], "train", data)
    assert len(problems) == 1
    assert "example #1 (label '2')" in problems[0] and "3 floats, expected 4" in problems[0]


def test_gate_caps_the_listing(tmp_path):
    bad = [example({"image": b"nope", "label": b"x"}) for _ in range(15)]
    path = _write_examples(str(tmp_path / "bad.gz"), bad)
    problems = data_gate.check_split_examples([path], "train", _data(train="x"))
    assert len(problems) == data_gate.MAX_LISTED_EXAMPLES + 1
    assert problems[-1] == "... and 5 more in split 'train'"


def test_anomalies_are_described_with_feature_and_kind():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["label"]
    info.description = "Examples contain values missing from the schema: cracked (~5%)."
    info.reason.add(type=anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES)
    lines = data_gate.describe_anomalies("eval", anomalies)
    assert lines == ["split 'eval', feature 'label' [ENUM_TYPE_UNEXPECTED_STRING_VALUES]: "
                     "Examples contain values missing from the schema: cracked (~5%)."]


def test_int_label_domain_is_pinned_to_training_range():
    schema = schema_pb2.Schema()
    schema.feature.add(name="image_class", type=schema_pb2.INT)
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    feature = stats.datasets.add().features.add()
    feature.path.step.append("image_class")
    feature.num_stats.min, feature.num_stats.max = 0, 9
    assert label_schema_gen.pin_int_label_domain(schema, stats, "image_class")
    domain = schema.feature[0].int_domain
    assert (domain.min, domain.max, domain.is_categorical) == (0, 9, True)


def test_string_labels_keep_tfdv_domain():
    schema = schema_pb2.Schema()
    schema.feature.add(name="label", type=schema_pb2.BYTES)
    assert not label_schema_gen.pin_int_label_domain(
        schema, statistics_pb2.DatasetFeatureStatisticsList(), "label")


def _model_dir(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True, exist_ok=True)
    (model / "saved_model.pb").write_bytes(b"pb")
    (model / "variables" / "variables.index").write_bytes(b"idx")
    return str(model)


def test_atomic_push_writes_a_complete_numeric_version(tmp_path):
    base = str(tmp_path / "serving" / "m")
    first = atomic_pusher.push_atomically(_model_dir(tmp_path), base)
    second = atomic_pusher.push_atomically(_model_dir(tmp_path), base)
    assert int(os.path.basename(second)) > int(os.path.basename(first))
    assert sorted(os.listdir(base)) == sorted([os.path.basename(first), os.path.basename(second)])
    assert os.path.exists(os.path.join(second, "variables", "variables.index"))


def test_failed_push_leaves_no_version_behind(tmp_path, monkeypatch):
    base = str(tmp_path / "serving" / "m")

    def copy_then_die(src, dst, **kwargs):
        os.makedirs(dst)
        open(os.path.join(dst, "saved_model.pb"), "wb").close()
        raise IOError("disk full")

    monkeypatch.setattr(atomic_pusher.io_utils, "copy_dir", copy_then_die)
    with pytest.raises(IOError):
        atomic_pusher.push_atomically(_model_dir(tmp_path), base)
    assert not [n for n in os.listdir(base) if n.isdigit()]


def _image_folder(root, classes=("good", "bad"), per_class=3, corrupt=None):
    for ci, name in enumerate(classes):
        os.makedirs(os.path.join(root, name))
        for i, im in enumerate(random_images(per_class, size=10, seed=ci)):
            with open(os.path.join(root, name, f"{i}.png"), "wb") as f:
                f.write(png_bytes(im))
    if corrupt:
        with open(os.path.join(root, corrupt), "wb") as f:
            f.write(b"not an image")


def test_image_folder_lists_classes_from_subfolders(tmp_path):
    _image_folder(str(tmp_path))
    items = image_folder_example_gen.list_images(str(tmp_path / "*" / "*"))
    assert len(items) == 6
    assert {label for _, label in items} == {"good", "bad"}


def test_image_folder_names_a_corrupt_file(tmp_path):
    _image_folder(str(tmp_path), corrupt="bad/broken.jpg")
    path = os.path.join(str(tmp_path), "bad", "broken.jpg")
    with pytest.raises(image_folder_example_gen.CorruptImageError, match="broken.jpg"):
        image_folder_example_gen.image_to_example(path, "bad", "image", "label")


def test_image_folder_example_gen_executor_writes_examples(tmp_path):
    """The real executor under Beam's DirectRunner, with a hash split."""
    from tfx.types import standard_artifacts, standard_component_specs
    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils
    from pipeline.pipeline import example_gen_inputs

    root = tmp_path / "images"
    _image_folder(str(root), per_class=10)
    data = _data(train=str(root), format="image_folder", image_key="img", label_key="cls",
                 eval_percent=30)
    base, input_config, output_config = example_gen_inputs(data)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: base,
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        standard_component_specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
            image_folder_example_gen._feature_keys_config("img", "cls")),
    }
    image_folder_example_gen.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]},
                                           exec_properties)
    seen = []
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(os.path.join(examples.uri, f"Split-{split}", "*"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            ex = tf.train.Example.FromString(record.numpy())
            seen.append((split, ex.features.feature["cls"].bytes_list.value[0].decode()))
            tf.io.decode_png(ex.features.feature["img"].bytes_list.value[0])
    assert len(seen) == 20
    assert {s for s, _ in seen} == {"train", "eval"}
    assert {c for _, c in seen} == {"good", "bad"}
