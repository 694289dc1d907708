"""The real pipeline, run locally on a small ELPV subset: bless, block, and bad data.

No mocks: LocalDagRunner, Beam DirectRunner, TFX components, ML Metadata (SQLite),
and the ImageNet EfficientNet-Lite0 backbone the demo exports.
"""

import glob
import os
import subprocess
import sys

import pytest
import tensorflow as tf
import yaml

from pipeline import config as config_lib
from pipeline import demo, metadata
from pipeline.local_runner import PipelineRunError, run_local
from trainer_module import features

pytestmark = pytest.mark.e2e

SUBSET = 120
FAST = ["backbone.input_size=64", "train.batch_size=16", "train.head_epochs=2",
        "train.finetune_epochs=1", "train.finetune_fraction=0.2", "eval.min_accuracy=0.5"]
ALL_NODES = {"ImportExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform",
             "Trainer", "latest_blessed_model_resolver", "Evaluator", "Pusher"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="module")
def config_path(workdir):
    config = demo.demo_config(workdir, limit=SUBSET, overrides=FAST)
    path = os.path.join(workdir, "config.yaml")
    demo.write_config(config, path)
    return path


def hubtune(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True,
                          text=True, timeout=900)


def versions(config) -> list:
    if not os.path.isdir(config.serving_model_dir):
        return []
    return sorted(n for n in os.listdir(config.serving_model_dir))


def dir_bytes(pattern: str) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))


@pytest.fixture(scope="module")
def first_run(config_path):
    result = hubtune("run", "--config", config_path)
    assert result.returncode == 0, result.stderr[-3000:]
    config = config_lib.load(config_path)
    return config, result.stdout, metadata.run_outcome(config.metadata_path)


def test_first_run_blesses_and_pushes(first_run):
    config, stdout, outcome = first_run
    assert {c.node_id for c in outcome.components} == ALL_NODES
    assert all(c.state == "COMPLETE" for c in outcome.components)
    assert outcome.blessed is True
    assert outcome.baseline_accuracy is None  # first run: value threshold only
    assert outcome.accuracy >= config.eval.min_accuracy
    assert "label=defective" in outcome.metrics and "label=functional" in outcome.metrics
    [version] = versions(config)
    assert version.isdigit()
    assert outcome.pushed_path == os.path.join(config.serving_model_dir, version)
    assert os.path.isfile(os.path.join(outcome.pushed_path, "saved_model.pb"))
    assert "blessed: yes" in stdout and outcome.pushed_path in stdout
    # Progress on the terminal, framework logs in the log file.
    assert "Trainer running" in stdout and "Trainer done" in stdout
    assert "phase1_head epoch 1/2" in stdout
    assert "Unable to register" not in stdout and "WARNING:absl" not in stdout
    log = open(os.path.join(config.pipeline_root, "hubtune.log")).read()
    assert "Component Trainer is finished." in log


def test_pushed_model_serves_both_signatures_alike(first_run):
    config, _, outcome = first_run
    pairs = demo.eval_images(config, 4)
    loaded = tf.saved_model.load(outcome.pushed_path)
    by_bytes = loaded.signatures[features.SERVING_IMAGES_SIGNATURE](
        images=tf.constant([p[0] for p in pairs]))
    serialized = [tf.train.Example(features=tf.train.Features(feature={
        config.data.image_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[p[0]]))}))
        .SerializeToString() for p in pairs]
    by_example = loaded.signatures[features.SERVING_EXAMPLES_SIGNATURE](
        examples=tf.constant(serialized))
    tf.debugging.assert_near(by_bytes["scores"], by_example["scores"], atol=1e-5)
    assert {c.decode() for c in by_bytes["classes"].numpy()} <= {"defective", "functional"}


def test_training_logs_and_compact_transformed_examples(first_run):
    config, _, outcome = first_run
    root = config.pipeline_root
    assert glob.glob(f"{root}/Trainer/model_run/*/phase1_head/train/events.out.tfevents.*")
    assert glob.glob(f"{root}/Trainer/model_run/*/phase2_finetune/train/events.out.tfevents.*")
    raw = dir_bytes(f"{root}/ImportExampleGen/examples/*/Split-*/*")
    transformed = dir_bytes(f"{root}/Transform/transformed_examples/*/Split-*/*")
    assert 0 < transformed <= 2 * raw


def test_unreachable_threshold_blocks_and_pushes_nothing(first_run, config_path):
    config, _, _ = first_run
    before = versions(config)
    result = hubtune("run", "--config", config_path, "--set", "eval.min_accuracy=0.999")
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = metadata.run_outcome(config.metadata_path)
    states = {c.node_id: c.state for c in outcome.components}
    assert states["Trainer"] == "CACHED"  # unchanged data and code: not retrained
    assert outcome.blessed is False
    assert outcome.baseline_accuracy is not None  # compared with the blessed first model
    assert outcome.pushed_path is None
    assert versions(config) == before
    assert any("sparse_categorical_accuracy" in c and "0.9990" in c
               for c in outcome.failed_checks)
    assert "blessed: NO" in result.stdout and "0.9990" in result.stdout


def test_bad_data_stops_before_training_and_names_the_examples(first_run, workdir):
    config, _, _ = first_run
    before = versions(config)
    bad_dir = os.path.join(workdir, "bad_eval")
    os.makedirs(bad_dir)
    records = list(tf.data.TFRecordDataset(config_lib.data_files(config.data.eval, "tfrecord")))
    with tf.io.TFRecordWriter(os.path.join(bad_dir, "eval.tfrecord")) as writer:
        for i, record in enumerate(records):
            ex = tf.train.Example.FromString(record.numpy())
            if i == 2:
                ex.features.feature["image"].bytes_list.value[0] = b"\x89PNG\r\n\x1a\n truncated"
            if i == 5:
                ex.features.feature["label"].bytes_list.value[0] = b"cracked"
            writer.write(ex.SerializeToString())
    bad = config_lib.from_dict(config_lib.apply_overrides(config.to_dict(), [f"data.eval={bad_dir}"]))
    with pytest.raises(PipelineRunError) as failure:
        run_local(bad)
    message = str(failure.value)
    assert "split 'eval', example #" in message and "does not decode" in message
    assert "feature 'label' [ENUM_TYPE_UNEXPECTED_STRING_VALUES]" in message
    assert "cracked" in message
    last_run = metadata.run_ids(metadata.open_store(config.metadata_path))[-1]
    ran = {c.node_id for c in metadata.run_outcome(config.metadata_path, last_run).components}
    assert "Transform" not in ran and "Trainer" not in ran
    assert versions(config) == before


@pytest.mark.skipif(not os.path.exists(os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..",
    "shared", "data", "mnist_1000.tfrecord")), reason="reads ../shared/data/mnist_1000.tfrecord, "
    "which is not present beside this checkout")
def test_float_pixels_on_shared_mnist(tmp_path, lite0_backbone):
    from tests.conftest import MNIST_TFRECORD
    raw = {
        "pipeline_name": "mnist-float-pixels", "pipeline_root": str(tmp_path / "root"),
        "data": {"format": "float_pixels", "train": MNIST_TFRECORD, "eval_percent": 20,
                 "image_key": "image_floats", "label_key": "image_class",
                 "pixels": {"height": 28, "width": 28, "channels": 1,
                            "min_value": -0.5, "max_value": 0.5}},
        "backbone": {"handle": lite0_backbone, "input_size": 64},
        "train": {"batch_size": 32, "head_epochs": 6, "finetune_epochs": 1,
                  "head_learning_rate": 0.003},
        "eval": {"min_accuracy": 0.3},
        "serving": {"base_dir": str(tmp_path / "serving"), "model_name": "mnist"},
    }
    path = tmp_path / "mnist.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = config_lib.load(str(path))
    outcome = run_local(config)
    assert outcome.blessed is True and outcome.pushed_path
    assert outcome.accuracy >= 0.3  # ten classes: well above chance (0.1)
    schema_files = glob.glob(f"{config.pipeline_root}/SchemaGen/schema/*/schema.pbtxt")
    assert "is_categorical: true" in open(schema_files[0]).read()  # int label domain pinned
    record = next(iter(tf.data.TFRecordDataset([MNIST_TFRECORD]).take(1)))
    loaded = tf.saved_model.load(outcome.pushed_path)
    out = loaded.signatures[features.SERVING_EXAMPLES_SIGNATURE](
        examples=tf.constant([record.numpy()]))
    assert out["classes"].numpy()[0].decode() in {str(d) for d in range(10)}


def test_image_folder_pipeline_with_hash_split(tmp_path, tiny_backbone):
    """Class sub-folders of PNG and JPEG files, no eval folder: a hash split, trained and pushed."""
    from tests.conftest import jpeg_bytes, png_bytes, random_images
    root = tmp_path / "images"
    for ci, name in enumerate(("scratched", "clean")):
        (root / name).mkdir(parents=True)
        for i, im in enumerate(random_images(30, size=20, seed=ci)):
            im = (im // 2 + 128 * ci).astype("uint8")  # the classes differ in brightness
            data = png_bytes(im) if i % 2 else jpeg_bytes(im)
            (root / name / f"{i}.{'png' if i % 2 else 'jpg'}").write_bytes(data)
    raw = {"pipeline_name": "folders", "pipeline_root": str(tmp_path / "root"),
           "data": {"format": "image_folder", "train": str(root), "eval_percent": 30},
           "backbone": {"handle": tiny_backbone, "input_size": 32},
           "train": {"batch_size": 8, "head_epochs": 3, "finetune_epochs": 1,
                     "head_learning_rate": 0.01},
           "eval": {"min_accuracy": 0.0},
           "serving": {"base_dir": str(tmp_path / "serving"), "model_name": "folders"}}
    path = tmp_path / "folders.yaml"
    path.write_text(yaml.safe_dump(raw))
    outcome = run_local(config_lib.load(str(path)))
    assert outcome.blessed is True and outcome.pushed_path
    assert set(outcome.metrics) == {"overall", "label=scratched", "label=clean"}
    loaded = tf.saved_model.load(outcome.pushed_path)
    image = (root / "clean" / "1.png").read_bytes()
    out = loaded.signatures[features.SERVING_IMAGES_SIGNATURE](images=tf.constant([image]))
    assert out["classes"].numpy()[0].decode() in {"scratched", "clean"}
