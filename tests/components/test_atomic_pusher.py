"""AtomicPusher: a version is complete or absent."""

import os
import subprocess
import sys

import pytest

from hubtune.components import atomic_pusher
from tests.conftest import REPO


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
    with pytest.raises(atomic_pusher.PushError, match="disk full"):
        atomic_pusher.push_atomically(_model_dir(tmp_path), base)
    assert os.listdir(base) == []  # neither a version nor a leftover stage


def test_object_stores_are_told_apart_from_local_filesystems():
    for path in ("gs://bucket/serving/m", "s3://b/m", "hdfs://nn/m"):
        assert atomic_pusher.is_object_store(path)
    for path in ("/srv/serving/m", "serving/m", "file:///srv/serving/m"):
        assert not atomic_pusher.is_object_store(path)


def _recording_copies(monkeypatch) -> list:
    """Records each file copy (the real copy still runs)."""
    copied, real_copy = [], atomic_pusher.fileio.copy

    def copy(src, dst, overwrite=False):
        copied.append(dst)
        return real_copy(src, dst, overwrite=overwrite)

    monkeypatch.setattr(atomic_pusher.fileio, "copy", copy)
    return copied


def test_without_atomic_rename_saved_model_pb_is_copied_last(tmp_path, monkeypatch):
    """The object-store path (gs://: a rename is copy-then-delete), run on local files."""
    base = str(tmp_path / "serving" / "m")
    model = _model_dir(tmp_path)
    (tmp_path / "model" / "assets").mkdir()
    (tmp_path / "model" / "assets" / "vocab.txt").write_text("a\nb\n")
    copied = _recording_copies(monkeypatch)
    final = atomic_pusher.push_atomically(model, base, atomic_rename=False)
    into_version = [c for c in copied if c.startswith(final + os.sep)]
    assert os.path.basename(into_version[-1]) == "saved_model.pb"
    assert len(into_version) == 3
    assert os.listdir(base) == [os.path.basename(final)]  # the stage is gone
    assert (open(os.path.join(final, "assets", "vocab.txt")).read() == "a\nb\n")


def test_a_push_that_fails_midway_leaves_no_stage_and_no_version(tmp_path, monkeypatch):
    base = str(tmp_path / "serving" / "m")
    model = _model_dir(tmp_path)
    real_copy = atomic_pusher.fileio.copy
    calls = []

    def copy_then_fail(src, dst, overwrite=False):  # an injected I/O error on the 2nd file
        if "incomplete" not in dst:  # copying from the stage into the version folder
            calls.append(dst)
            if len(calls) == 2:
                raise IOError("connection reset while copying")
        return real_copy(src, dst, overwrite=overwrite)

    monkeypatch.setattr(atomic_pusher.fileio, "copy", copy_then_fail)
    with pytest.raises(atomic_pusher.PushError, match="connection reset"):
        atomic_pusher.push_atomically(model, base, atomic_rename=False)
    assert os.listdir(base) == []


FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # exceeding the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
from hubtune.components import atomic_pusher
try:
    atomic_pusher.push_atomically(sys.argv[1], sys.argv[2])
except atomic_pusher.PushError as e:
    print(e)
    sys.exit(3)
"""


@pytest.mark.parametrize("atomic_rename", [True, False])
def test_a_full_disk_during_the_push_leaves_nothing_and_says_so(tmp_path, atomic_rename):
    """A real process whose files may not exceed 64 KiB pushes a model with 256 KiB weights."""
    model = _model_dir(tmp_path)
    (tmp_path / "model" / "variables" / "variables.data-00000-of-00001").write_bytes(
        os.urandom(256 * 1024))
    base = str(tmp_path / "serving" / "m")
    script = FULL_DISK.replace("push_atomically(sys.argv[1], sys.argv[2])",
                               f"push_atomically(sys.argv[1], sys.argv[2], {atomic_rename})")
    result = subprocess.run([sys.executable, "-c", script, model, base], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "File too large" in result.stdout and "nothing was published" in result.stdout
    assert os.listdir(base) == []


def test_a_model_already_published_as_the_latest_version_is_not_pushed_again(
        tmp_path, tiny_backbone):
    """What a run killed after its copy (before ML Metadata recorded it) re-runs into."""
    import shutil
    base = str(tmp_path / "serving" / "m")
    first = atomic_pusher.push_atomically(tiny_backbone, base)
    assert atomic_pusher.latest_version_of(tiny_backbone, base) == first
    other = str(tmp_path / "other")
    shutil.copytree(tiny_backbone, other)
    newer = atomic_pusher.push_atomically(_model_dir(tmp_path), base)  # another model on top
    assert atomic_pusher.latest_version_of(tiny_backbone, base) is None
    assert atomic_pusher.latest_version_of(other, base) is None
    assert newer != first
