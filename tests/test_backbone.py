"""The EfficientNet-Lite0 weight conversion and the exported TF-Hub feature vector."""

import io
import os
import pickle

import matplotlib
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from trainer_module import backbone, efficientnet_lite, torch_checkpoint

GRACE_HOPPER = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
MILITARY_UNIFORM = 652  # ImageNet class index of "military uniform"


def test_checkpoint_reads_without_torch():
    state = torch_checkpoint.load_legacy_state_dict(backbone.pretrained_checkpoint_path())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    params = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert 4.5e6 < params < 4.8e6
    assert all(np.isfinite(v).all() for v in state.values())


def _legacy_file(tmp_path, payload: bytes) -> str:
    out = io.BytesIO()
    for obj in (torch_checkpoint.LEGACY_MAGIC_NUMBER, torch_checkpoint.LEGACY_PROTOCOL_VERSION,
                {"little_endian": True}):
        pickle.dump(obj, out, protocol=2)
    out.write(payload)
    path = tmp_path / "model.pth"
    path.write_bytes(out.getvalue())
    return str(path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    path = _legacy_file(tmp_path, pickle.dumps(_Exploit(), protocol=2))
    with pytest.raises(torch_checkpoint.CheckpointError, match="does not allow"):
        torch_checkpoint.load_legacy_state_dict(path)


def test_non_legacy_file_is_rejected(tmp_path):
    path = tmp_path / "zip.pth"
    path.write_bytes(pickle.dumps(123, protocol=2))
    with pytest.raises(torch_checkpoint.CheckpointError, match="magic number"):
        torch_checkpoint.load_legacy_state_dict(str(path))


def test_truncated_checkpoint_is_reported(tmp_path):
    data = open(backbone.pretrained_checkpoint_path(), "rb").read()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(torch_checkpoint.CheckpointError, match="truncated"):
        torch_checkpoint.load_legacy_state_dict(str(path))


def _grace_hopper(size: int = 224) -> tf.Tensor:
    image = tf.io.decode_jpeg(open(GRACE_HOPPER, "rb").read(), channels=3)
    return tf.image.resize(tf.cast(image, tf.float32) / 255.0, (size, size))[None]


def test_converted_weights_classify_a_known_image():
    model = backbone.build_efficientnet_lite0(weights="imagenet", include_top=True)
    probs = tf.nn.softmax(model(_grace_hopper(), training=False))[0].numpy()
    assert int(np.argmax(probs)) == MILITARY_UNIFORM
    assert probs[MILITARY_UNIFORM] > 0.3


def test_random_weights_do_not():
    model = backbone.build_efficientnet_lite0(weights="random", include_top=True)
    probs = tf.nn.softmax(model(_grace_hopper(), training=False))[0].numpy()
    assert probs.max() < 0.3


def test_torch_names_map_to_checkpoint_keys():
    assert efficientnet_lite.torch_name("blocks.3.expand_conv") == "_blocks.3._expand_conv"
    assert efficientnet_lite.torch_name("conv_stem") == "_conv_stem"


def test_exported_feature_vector_loads_in_hub_keras_layer(lite0_backbone):
    layer = hub.KerasLayer(lite0_backbone, trainable=True)
    images = _grace_hopper(160)
    features = layer(images, training=False)
    assert features.shape == (1, efficientnet_lite.FEATURE_DIM)
    reference = backbone.build_efficientnet_lite0(weights="imagenet")(images, training=False)
    np.testing.assert_allclose(features.numpy(), reference.numpy(), rtol=1e-4, atol=1e-4)
    # Trainable variables and a training argument, as a fine-tunable hub module has.
    assert len(layer.trainable_variables) > 100
    assert len(layer.non_trainable_variables) > 0  # BatchNorm statistics
    assert hub.keras_layer.func_has_training_argument(layer._func)


def test_export_replaces_atomically(tmp_path):
    out = tmp_path / "bb"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    backbone.export_efficientnet_lite0(str(out), weights="random")
    assert (out / "saved_model.pb").exists()
    assert not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bb"]


def test_url_handles_resolve_offline_through_tfhub_cache_dir(tmp_path, tiny_backbone,
                                                             monkeypatch):
    import shutil
    handle = "https://tfhub.dev/hubtune-tests/tiny-feature-vector/1"
    cache = tmp_path / "hub_cache"
    shutil.copytree(tiny_backbone, backbone.hub_cache_path(handle, str(cache)))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    layer = backbone.load_backbone(handle)  # no network here: only the cache can answer
    assert layer(tf.zeros([2, 16, 16, 3]), training=False).shape == (2, 16)
