"""Versions of one model under a TF Serving base path: discover, load, warm up, swap.

The layout is TF Serving's: ``<base_path>/<version>/saved_model.pb`` with numeric
version folders.  A new version serves only once it has loaded and replayed its
warmup requests; until then the previous one keeps serving.  A version that is
incomplete or fails to load is skipped, with the reason logged and reported in
its status.  The newest ``keep_versions`` versions stay loaded.
"""

import logging
import os
import threading
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from hubtune.config.serving_defaults import (DEFAULT_KEEP_VERSIONS, DEFAULT_MAX_IMAGE_PIXELS,
                                             DEFAULT_POLL_SECONDS)
from hubtune.serving import image_limits
from hubtune.serving.errors import InvalidArgument, NotFound, Unavailable
from hubtune.trainer_module import warmup_requests

LOGGER = logging.getLogger("hubtune.serving")
START, LOADING, AVAILABLE, END = "START", "LOADING", "AVAILABLE", "END"


def version_dirs(base_path: str) -> Dict[int, str]:
    """{version: folder} for the numeric folders of a TF Serving model base path (TF Serving
    ignores anything else, e.g. the Pusher's ``.<version>.incomplete`` staging folders)."""
    if not tf.io.gfile.isdir(base_path):
        return {}
    out = {}
    for name in tf.io.gfile.listdir(base_path):
        name = name.rstrip("/")
        if name.isdigit():
            out[int(name)] = os.path.join(base_path, name)
    return out


class LoadedVersion:
    """One loaded SavedModel version: its signatures and their SignatureDefs."""

    def __init__(self, version: int, path: str,
                 max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS):
        self.version, self.path = version, path
        self.max_image_pixels = max_image_pixels
        self._loaded = tf.saved_model.load(path)
        self.signatures = dict(self._loaded.signatures)
        meta = saved_model_pb2.SavedModel()
        with tf.io.gfile.GFile(os.path.join(path, "saved_model.pb"), "rb") as f:
            meta.ParseFromString(f.read())
        self.signature_defs = {k: v for k, v in meta.meta_graphs[0].signature_def.items()
                               if not k.startswith("__")}

    def input_specs(self, signature_name: str) -> Dict[str, tf.TensorSpec]:
        fn = self._signature(signature_name)
        return dict(fn.structured_input_signature[1])

    def _signature(self, signature_name: str):
        if signature_name not in self.signatures:
            raise InvalidArgument(f'Serving signature name: "{signature_name}" not found in '
                                  f"signature def (known: {', '.join(sorted(self.signatures))})")
        return self.signatures[signature_name]

    def predict(self, signature_name: str, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        specs = self.input_specs(signature_name)
        unknown = set(inputs) - set(specs)
        missing = set(specs) - set(inputs)
        if unknown or missing:
            raise InvalidArgument(f"signature '{signature_name}' takes inputs "
                                  f"{sorted(specs)}; got {sorted(inputs)}")
        tensors = {}
        for name, value in inputs.items():
            try:
                tensors[name] = tf.convert_to_tensor(value, dtype=specs[name].dtype)
            except (TypeError, ValueError) as e:
                raise InvalidArgument(f"input '{name}': {e}") from e
            if not specs[name].shape.is_compatible_with(tensors[name].shape):
                raise InvalidArgument(f"input '{name}' has shape {tensors[name].shape}, "
                                      f"expected {specs[name].shape}")
            if specs[name].dtype == tf.string:
                self._check_images(name, tensors[name])
        try:
            outputs = self._signature(signature_name)(**tensors)
        except tf.errors.InvalidArgumentError as e:
            raise InvalidArgument(e.message.splitlines()[0]) from e
        return {k: v.numpy() for k, v in outputs.items()}

    def _check_images(self, name: str, tensor: tf.Tensor) -> None:
        """Refuses images whose header declares more pixels than the cap, before decoding."""
        try:
            image_limits.check_request_strings(tensor.numpy().reshape(-1).tolist(),
                                               self.max_image_pixels, name)
        except image_limits.ImageTooLarge as e:
            raise InvalidArgument(str(e)) from e

    def run_warmup(self) -> int:
        """Replays the version's warmup requests; returns how many ran."""
        logs = warmup_requests.read_warmup_requests(self.path)
        for log in logs:
            request = log.predict_log.request
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            self.predict(request.model_spec.signature_name or "serving_default", inputs)
        return len(logs)


class ModelStore:
    """Serves the newest loaded versions of ``model_name`` found under ``base_path``."""

    def __init__(self, model_name: str, base_path: str,
                 keep_versions: int = DEFAULT_KEEP_VERSIONS,
                 poll_seconds: float = DEFAULT_POLL_SECONDS,
                 max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS):
        self.model_name, self.base_path = model_name, base_path
        self.keep_versions, self.poll_seconds = keep_versions, poll_seconds
        self.max_image_pixels = max_image_pixels
        self._lock = threading.Lock()
        self._loaded: Dict[int, LoadedVersion] = {}
        self._states: Dict[int, str] = {}
        self._errors: Dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # ---------------------------------------------------------------- discovery

    def version_dirs(self) -> Dict[int, str]:
        return version_dirs(self.base_path)

    def poll_once(self) -> None:
        """Serves the newest ``keep_versions`` healthy versions; unloads the rest.

        Broken versions (failed to load) and incomplete ones (no saved_model.pb yet)
        are passed over for the next newest; incomplete ones are looked at again
        on the next poll.
        """
        found = self.version_dirs()
        healthy: List[int] = []
        for version in sorted(found, reverse=True):
            if len(healthy) >= self.keep_versions:
                break
            if version in self._errors:
                continue
            if version in self._loaded or self._load(version, found[version]):
                healthy.append(version)
        with self._lock:
            for version in [v for v in self._loaded if v not in healthy]:
                del self._loaded[version]
                self._states[version] = END
                LOGGER.info("model %s version %d unloaded", self.model_name, version)

    def _load(self, version: int, path: str) -> bool:
        """Loads and warms up one version; False when it is incomplete or broken."""
        if not tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
            LOGGER.info("model %s version %d: no saved_model.pb (yet); skipped",
                        self.model_name, version)
            return False
        with self._lock:
            self._states[version] = LOADING
        try:
            loaded = LoadedVersion(version, path, self.max_image_pixels)
            warmed = loaded.run_warmup()
        except Exception as e:  # noqa: BLE001 - a broken version must not stop serving
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            LOGGER.warning("model %s version %d failed to load and is skipped: %s",
                           self.model_name, version, reason)
            with self._lock:
                self._states[version] = END
                self._errors[version] = reason
            return False
        with self._lock:
            self._loaded[version] = loaded
            self._states[version] = AVAILABLE
        LOGGER.info("model %s version %d AVAILABLE (%d warmup requests)", self.model_name,
                    version, warmed)
        return True

    # ---------------------------------------------------------------- polling

    def start(self) -> None:
        self.poll_once()
        self._thread = threading.Thread(target=self._poll_loop, name="version-poller",
                                        daemon=True)
        self._thread.start()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - keep polling whatever one scan hit
                LOGGER.exception("version poll failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    # ---------------------------------------------------------------- requests

    def get(self, model_name: str, version: Optional[int] = None) -> LoadedVersion:
        if model_name != self.model_name:
            raise NotFound(f"Servable not found for request: Latest({model_name})")
        with self._lock:
            if version is None:
                if not self._loaded:
                    raise Unavailable(f"no version of model {model_name} is available yet")
                return self._loaded[max(self._loaded)]
            if version not in self._loaded:
                raise NotFound(f"Servable not found for request: "
                               f"Specific({model_name}, {version})")
            return self._loaded[version]

    def status(self, model_name: str, version: Optional[int] = None) -> List[dict]:
        """[{version, state, error}] newest first, as TF Serving's model status reports."""
        if model_name != self.model_name:
            raise NotFound(f"Could not find any versions of model {model_name}")
        with self._lock:
            versions = sorted(self._states, reverse=True)
            if version is not None:
                if version not in self._states:
                    raise NotFound(f"Could not find version {version} of model {model_name}")
                versions = [version]
            return [{"version": v, "state": self._states[v], "error": self._errors.get(v, "")}
                    for v in versions]

    def wait_until_available(self, timeout: float = 120.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if self._loaded:
                    return True
            time.sleep(0.1)
        return False
