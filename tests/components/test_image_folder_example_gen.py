"""ImageFolderExampleGen: classes from sub-folders, corrupt files named."""

import os

import pytest
import tensorflow as tf

from hubtune import config as config_lib
from hubtune.components import image_folder_example_gen
from tests.conftest import png_bytes, random_images


def _data(**kw):
    return config_lib.data_from_dict(kw)


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
    from hubtune.pipeline.pipeline import example_gen_inputs

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
