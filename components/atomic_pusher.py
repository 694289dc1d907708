"""Pusher that never exposes a half-written version to TF Serving.

TFX's Pusher copies straight into ``<base>/<version>/``.  TF Serving watches that
folder and may pick a version up mid-copy; a run that dies mid-copy leaves a broken
version behind.  Here the model is first staged complete in
``<base>/.<version>.incomplete`` (TF Serving ignores non-numeric names), then:

- local and POSIX filesystems (no URL scheme, or ``file://``): the stage is renamed to
  ``<version>`` in one atomic step, so the version appears whole or not at all;
- object stores (``gs://``, ``s3://``, any other scheme), where a "rename" is a
  copy-then-delete that a reader can watch half-done: the stage is copied into
  ``<version>`` with ``saved_model.pb`` last, the order TF Serving and TFX's own
  Pusher rely on (a version without saved_model.pb is not loadable, so it is not
  loaded), and the stage is deleted afterwards.

Either way, a failed push removes its stage and any partial version folder, and the
error propagates (the run fails, nothing is marked pushed).

With ``tflite_models`` (the EdgeExporter's output) the version also gets a ``tflite/``
folder (variants, labels.txt, metadata.json with the version filled in), staged with the
SavedModel so that it appears with the version or not at all; TF Serving ignores it.  A
TFLiteModels artifact that is not blessed (a variant lost too much accuracy) blocks the
push like a failed model blessing.
"""

import os
import time
from typing import Any, Callable, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import io_utils, json_utils, proto_utils

from hubtune.components import edge_exporter
from hubtune.edge import edge_metadata
from hubtune.trainer_module import export

INCOMPLETE_SUFFIX = ".incomplete"
TFLITE_DIR = "tflite"  # inside a version folder


class PushError(RuntimeError):
    """The push failed (e.g. a full disk); nothing was published, the partial copy removed."""


SAVED_MODEL_FILE = "saved_model.pb"


def next_version(base_dir: str) -> str:
    """A Unix-timestamp version, bumped past any existing version to stay unique."""
    version = int(time.time())
    if fileio.exists(base_dir):
        existing = [int(n.rstrip("/")) for n in fileio.listdir(base_dir) if n.rstrip("/").isdigit()]
        version = max([version] + [v + 1 for v in existing])
    return str(version)


def is_object_store(path: str) -> bool:
    """True for paths whose directory rename is not atomic (gs://, s3://, ...)."""
    scheme = path.split("://", 1)[0] if "://" in path else ""
    return scheme not in ("", "file")


def copy_saved_model_last(src: str, dst: str) -> None:
    """Copies the folder ``src`` to ``dst``, every other file before saved_model.pb."""
    files = [os.path.join(root, name) for root, _, names in fileio.walk(src) for name in names]
    files.sort(key=lambda f: os.path.basename(f) == SAVED_MODEL_FILE)  # stable: pb last
    for path in files:
        target = os.path.join(dst, os.path.relpath(path, src))
        fileio.makedirs(os.path.dirname(target))
        fileio.copy(path, target, overwrite=True)


def _remove(path: str) -> None:
    try:
        if fileio.exists(path):
            fileio.rmtree(path)
    except Exception:  # noqa: BLE001 - best effort; the push error is what matters
        logging.warning("could not remove %s after a failed push", path, exc_info=True)


def push_atomically(model_path: str, base_dir: str, atomic_rename: Optional[bool] = None,
                    add_to_stage: Optional[Callable[[str, str], None]] = None) -> str:
    """Copies a SavedModel to ``<base_dir>/<version>`` via a hidden staging folder.

    ``atomic_rename``: whether renaming the stage into place is atomic; by default true
    except on object stores (see the module docstring).  ``add_to_stage(stage, version)``
    adds files to the version (the TFLite models) before it is published."""
    if atomic_rename is None:
        atomic_rename = not is_object_store(base_dir)
    fileio.makedirs(base_dir)
    version = next_version(base_dir)
    staging = os.path.join(base_dir, f".{version}{INCOMPLETE_SUFFIX}")
    final = os.path.join(base_dir, version)
    _remove(staging)
    try:
        io_utils.copy_dir(model_path, staging)
        if add_to_stage:
            add_to_stage(staging, version)
        if atomic_rename:
            fileio.rename(staging, final)
        else:
            copy_saved_model_last(staging, final)
            _remove(staging)
    except Exception as e:  # noqa: BLE001 - OSError, TF's file errors (e.g. a full disk), ...
        _remove(staging)
        _remove(final)
        raise PushError(f"pushing {model_path} to {base_dir} failed ({e}); nothing was "
                        "published and the partial copy was removed; free space or fix "
                        "access to the serving directory, then re-run") from e
    except BaseException:
        _remove(staging)
        _remove(final)
        raise
    return final


def latest_version_of(model_path: str, base_dir: str) -> Optional[str]:
    """The newest complete version folder when it holds this very model (same graph and
    weights), else None: a run killed after its copy but before ML Metadata recorded the
    push re-runs the Pusher, which then publishes nothing new (one push per model)."""
    if not fileio.exists(base_dir):
        return None
    versions = sorted((int(n.rstrip("/")) for n in fileio.listdir(base_dir)
                       if n.rstrip("/").isdigit()), reverse=True)
    for version in versions:
        path = os.path.join(base_dir, str(version))
        if fileio.exists(os.path.join(path, SAVED_MODEL_FILE)):
            try:
                same = export.saved_model_identity(path) == export.saved_model_identity(model_path)
            except Exception:  # noqa: BLE001 - unreadable: not the same model
                same = False
            return path if same else None
    return None


def tflite_stager(tflite_dir: str) -> Callable[[str, str], None]:
    """Copies the TFLite folder into a stage as ``tflite/``, the version in its metadata."""
    def add(stage: str, version: str) -> None:
        target = os.path.join(stage, TFLITE_DIR)
        io_utils.copy_dir(tflite_dir, target)
        metadata = edge_metadata.read(target)
        metadata["version"] = version
        edge_metadata.write(target, metadata)
    return add


class Executor(pusher_executor.Executor):
    def CheckBlessing(self, input_dict: Dict[str, List[types.Artifact]]) -> bool:
        tflite = input_dict.get(edge_exporter.TFLITE_MODELS_KEY)
        if tflite and not edge_exporter.is_blessed(tflite[0]):
            logging.info("TFLite variants on %s were not blessed: %s", tflite[0].uri,
                         tflite[0].get_string_custom_property(edge_exporter.REASON_KEY))
            return False
        return super().CheckBlessing(input_dict)

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
                                  destination)
        base_dir = destination.filesystem.base_directory
        tflite = input_dict.get(edge_exporter.TFLITE_MODELS_KEY)
        serving_path = latest_version_of(model_path, base_dir)
        if serving_path:
            logging.info("Model already published as %s (an interrupted run); not copied again.",
                         serving_path)
        else:
            serving_path = push_atomically(
                model_path, base_dir, add_to_stage=tflite_stager(tflite[0].uri) if tflite else None)
            logging.info("Model pushed to serving path %s.", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=os.path.basename(serving_path))


class AtomicPusherSpec(standard_component_specs.PusherSpec):
    INPUTS = dict(standard_component_specs.PusherSpec.INPUTS, **{
        edge_exporter.TFLITE_MODELS_KEY: ChannelParameter(type=edge_exporter.TFLiteModels,
                                                          optional=True)})


class AtomicPusher(base_component.BaseComponent):
    """The standard Pusher with an all-or-nothing filesystem push (and the TFLite folder)."""

    SPEC_CLASS = AtomicPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel,
                 infra_blessing: types.BaseChannel, push_destination: pusher_pb2.PushDestination,
                 tflite_models: Optional[types.BaseChannel] = None):
        super().__init__(spec=AtomicPusherSpec(
            model=model, model_blessing=model_blessing, infra_blessing=infra_blessing,
            tflite_models=tflite_models, push_destination=push_destination,
            custom_config=json_utils.dumps({}),
            pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
