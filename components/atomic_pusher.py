"""Pusher that never exposes a half-written version to TF Serving.

TFX's Pusher copies straight into ``<base>/<version>/`` (``saved_model.pb``
last).  TF Serving watches that folder and may pick a version up mid-copy; a run
that dies mid-copy leaves a broken version behind.  Here the model is copied to
``<base>/.<version>.incomplete`` (TF Serving ignores non-numeric names) and
renamed into place in one step once complete.
"""

import os
import time
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components import Pusher
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

INCOMPLETE_SUFFIX = ".incomplete"


def next_version(base_dir: str) -> str:
    """A Unix-timestamp version, bumped past any existing version to stay unique."""
    version = int(time.time())
    if fileio.exists(base_dir):
        existing = [int(n.rstrip("/")) for n in fileio.listdir(base_dir) if n.rstrip("/").isdigit()]
        version = max([version] + [v + 1 for v in existing])
    return str(version)


def push_atomically(model_path: str, base_dir: str) -> str:
    """Copies a SavedModel to ``<base_dir>/<version>`` via a hidden temporary folder."""
    fileio.makedirs(base_dir)
    version = next_version(base_dir)
    staging = os.path.join(base_dir, f".{version}{INCOMPLETE_SUFFIX}")
    final = os.path.join(base_dir, version)
    if fileio.exists(staging):
        fileio.rmtree(staging)
    io_utils.copy_dir(model_path, staging)
    fileio.rename(staging, final)
    return final


class Executor(pusher_executor.Executor):
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
        serving_path = push_atomically(model_path, destination.filesystem.base_directory)
        logging.info("Model pushed to serving path %s.", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=os.path.basename(serving_path))


class AtomicPusher(Pusher):
    """The standard Pusher with an all-or-nothing filesystem push."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
