"""Serving a candidate model before it is pushed: TFX's InfraValidator without Docker.

``check_candidate`` loads the model in a fresh ``hubtune serve`` process (its own
interpreter, as TF Serving would load it: from the files alone, warmup requests
replayed), waits for the version to become AVAILABLE, then sends the same requests
over REST and gRPC to every prediction signature and checks the answers: the outputs
hubtune's clients read, one row per request, scores that are probabilities, and REST
and gRPC agreeing.  It also refuses op types stock TF Serving does not register.
"""

import dataclasses
import os
import tempfile
import time
from typing import Dict, List

import numpy as np

from hubtune import config as config_lib
from hubtune.config import names
from hubtune.config.serving_defaults import (SERVING_CHECK_LOAD_SECONDS,
                                             TF_SERVING_EXTRA_OPS)
from hubtune.serving import op_registry
from hubtune.serving.client import GrpcClient, RestClient, RetryPolicy, ServingError
from hubtune.serving.serve_command import ServerProcess

CHECK_MODEL_NAME = "candidate"
CHECK_VERSION = 1
# Signatures a client predicts with, and the one string input each takes.
SIGNATURE_INPUTS = {names.SERVING_EXAMPLES_SIGNATURE: names.EXAMPLES_INPUT,
                    **dict(names.RAW_SIGNATURES.values())}
REQUIRED_OUTPUTS = (names.SCORES_OUTPUT, names.CLASS_IDS_OUTPUT, names.CLASSES_OUTPUT)


@dataclasses.dataclass
class CheckResult:
    """The InfraBlessing's content: blessed or not, why, and what was checked."""
    blessed: bool
    reason: str = ""
    checked: List[str] = dataclasses.field(default_factory=list)


class NotServable(Exception):
    """One reason the candidate would not serve."""


def _wait_available(rest: RestClient, server: ServerProcess, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.process.poll() is not None:
            raise NotServable(f"the server exited ({server.tail()})")
        try:
            [status] = rest.status(CHECK_VERSION)
        except ServingError:
            time.sleep(0.5)
            continue
        if status["state"] == "AVAILABLE":
            return
        if status["state"] == "END":
            error = status.get("status", {}).get("error_message") or "no reason given"
            raise NotServable(f"the version failed to load: {error}")
        time.sleep(0.5)
    raise NotServable(f"the version was not AVAILABLE within {timeout:.0f} s")


def check_answer(where: str, answer: Dict[str, np.ndarray], rows: int) -> None:
    """Outputs a client reads, one row per request, scores that are probabilities."""
    missing = [k for k in REQUIRED_OUTPUTS if k not in answer]
    if missing:
        raise NotServable(f"{where}: outputs {', '.join(missing)} missing "
                          f"(answered: {', '.join(sorted(answer)) or 'nothing'})")
    for key in REQUIRED_OUTPUTS:
        if len(answer[key]) != rows:
            raise NotServable(f"{where}: '{key}' has {len(answer[key])} rows for {rows} requests")
    scores = np.asarray(answer[names.SCORES_OUTPUT], dtype=np.float64)
    if not np.all(np.isfinite(scores)) or not np.allclose(scores.sum(axis=-1), 1.0, atol=1e-3):
        raise NotServable(f"{where}: 'scores' are not probabilities (row sums "
                          f"{np.round(scores.sum(axis=-1), 4).tolist()})")


def _check_signature(rest: RestClient, grpc: GrpcClient, signature: str,
                     values: List[bytes]) -> None:
    try:
        by_rest = rest.predict_strings(values, signature, CHECK_VERSION)
        by_grpc = grpc.predict_strings(SIGNATURE_INPUTS[signature], values, signature,
                                       CHECK_VERSION)
    except ServingError as e:
        raise NotServable(f"signature '{signature}': the server answered {e}") from e
    check_answer(f"REST '{signature}'", by_rest, len(values))
    check_answer(f"gRPC '{signature}'", by_grpc, len(values))
    if not np.allclose(by_rest[names.SCORES_OUTPUT], by_grpc[names.SCORES_OUTPUT], atol=1e-5):
        raise NotServable(f"signature '{signature}': REST and gRPC scores differ")


def _serve_and_query(model_dir: str, requests: Dict[str, List[bytes]]) -> List[str]:
    checked = []
    with tempfile.TemporaryDirectory(prefix="hubtune-serving-check-") as workdir:
        base = os.path.join(workdir, CHECK_MODEL_NAME)
        os.makedirs(base)
        os.symlink(os.path.abspath(model_dir), os.path.join(base, str(CHECK_VERSION)))
        server = ServerProcess(CHECK_MODEL_NAME, base, workdir, poll_seconds=3600)
        try:
            rest_port, grpc_port = server.ports
            if not rest_port:
                raise NotServable(f"hubtune serve did not start: {server.tail()}")
            no_retry = RetryPolicy(attempts=1)
            rest = RestClient(f"http://127.0.0.1:{rest_port}", CHECK_MODEL_NAME, retry=no_retry)
            _wait_available(rest, server, SERVING_CHECK_LOAD_SECONDS)
            checked.append("loaded and warmed up in a fresh server: AVAILABLE")
            grpc = GrpcClient(f"127.0.0.1:{grpc_port}", CHECK_MODEL_NAME, retry=no_retry)
            try:
                for signature in requests:
                    _check_signature(rest, grpc, signature, requests[signature])
                    checked.append(f"'{signature}': {len(requests[signature])} requests, REST "
                                   "and gRPC agree")
            finally:
                grpc.close()
        finally:
            server.stop()
    return checked


def check_candidate(model_dir: str, requests: Dict[str, List[bytes]],
                    allowed_ops=TF_SERVING_EXTRA_OPS) -> CheckResult:
    """Blessed when the model would serve; ``requests``: signature -> string inputs."""
    unknown = op_registry.unservable_ops(model_dir, allowed_ops)
    if unknown:
        return CheckResult(False, f"op types stock TF Serving does not register: "
                           f"{', '.join(unknown)}")
    checked = ["op types: core TF" + (" and allowed TF Text ops" if allowed_ops else "")]
    try:
        checked += _serve_and_query(model_dir, requests)
    except NotServable as e:
        return CheckResult(False, str(e), checked)
    return CheckResult(True, "", checked)


def requests_from_examples(serialized: List[bytes],
                           data: config_lib.DataConfig) -> Dict[str, List[bytes]]:
    """Per prediction signature, the inputs built from eval tf.Examples: the examples
    themselves, and their images encoded (float pixels as PNG), or texts, as clients send
    them."""
    import tensorflow as tf
    from hubtune.trainer_module import preprocessing
    images = []
    for record in serialized:
        feature = tf.train.Example.FromString(record).features.feature[data.input_key]
        if data.modality == config_lib.TEXT:
            images.append(b" ".join(feature.bytes_list.value))
        elif data.format == "float_pixels":
            pixels = tf.constant([list(feature.float_list.value)], tf.float32)
            images.append(preprocessing.pixels_to_png(pixels, data.pixels).numpy()[0])
        else:
            images.append(feature.bytes_list.value[0])
    return {names.SERVING_EXAMPLES_SIGNATURE: list(serialized),
            names.RAW_SIGNATURES[data.modality][0]: images}
