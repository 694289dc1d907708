"""AtomicPusher: a version is complete or absent."""

import os

import pytest

from hubtune.components import atomic_pusher


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
