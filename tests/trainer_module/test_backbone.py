"""Loading backbones by handle, offline through TFHUB_CACHE_DIR."""

import tensorflow as tf

from hubtune.trainer_module import backbone


def test_url_handles_resolve_offline_through_tfhub_cache_dir(tmp_path, tiny_backbone,
                                                             monkeypatch):
    import shutil
    handle = "https://tfhub.dev/hubtune-tests/tiny-feature-vector/1"
    cache = tmp_path / "hub_cache"
    shutil.copytree(tiny_backbone, backbone.hub_cache_path(handle, str(cache)))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    layer = backbone.load_backbone(handle)  # no network here: only the cache can answer
    assert layer(tf.zeros([2, 16, 16, 3]), training=False).shape == (2, 16)
