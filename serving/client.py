"""Client for TF Serving (and ``hubtune serve``) over REST or gRPC.

Timeouts on every call; retries with exponential backoff only when the server is
unavailable (HTTP 503, gRPC UNAVAILABLE, connection refused while it restarts);
errors carry what the server answered.
"""

import base64
import dataclasses
import json
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, List, Optional, TypeVar

import numpy as np

from hubtune.config import names

DEFAULT_TIMEOUT_SECONDS = 10.0
IMAGES_SIGNATURE = names.SERVING_IMAGES_SIGNATURE
IMAGES_INPUT = names.IMAGES_INPUT
T = TypeVar("T")


SINGLE_OUTPUT = "outputs"  # how TF Serving names a signature's only output in JSON answers


class ServingError(RuntimeError):
    """The server answered with an error (or could not be reached after retries)."""

    def __init__(self, status: str, message: str, retryable: bool = False):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.retryable = status, message, retryable


@dataclasses.dataclass
class RetryPolicy:
    attempts: int = 5
    initial_backoff: float = 0.2
    multiplier: float = 2.0
    max_backoff: float = 5.0

    def run(self, call: Callable[[], T]) -> T:
        delay = self.initial_backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except ServingError as e:
                if not e.retryable or attempt == self.attempts:
                    raise
            time.sleep(delay)
            delay = min(delay * self.multiplier, self.max_backoff)
        raise AssertionError("unreachable")


class RestClient:
    """``POST /v1/models/{name}[/versions/{v}]:predict`` and the status/metadata GETs."""

    def __init__(self, url: str, model_name: str, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 retry: Optional[RetryPolicy] = None):
        self.base = url.rstrip("/")
        self.model_name, self.timeout = model_name, timeout
        self.retry = retry or RetryPolicy()

    def _url(self, version: Optional[int], suffix: str = "") -> str:
        path = f"{self.base}/v1/models/{self.model_name}"
        if version is not None:
            path += f"/versions/{version}"
        return path + suffix

    def _request(self, url: str, body: Optional[dict] = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                         headers={"Content-Type": "application/json"})

        def call():
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as e:
                text = e.read().decode(errors="replace")
                try:
                    message = json.loads(text).get("error", text)
                except (ValueError, AttributeError):
                    message = text
                raise ServingError(f"HTTP {e.code}", message, retryable=e.code == 503) from e
            except (urllib.error.URLError, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                refused = isinstance(reason, (ConnectionRefusedError, ConnectionResetError))
                raise ServingError("UNAVAILABLE", f"{url}: {reason}", retryable=refused) from e
        return self.retry.run(call)

    def predict(self, body: dict, version: Optional[int] = None) -> dict:
        return self._request(self._url(version, ":predict"), body)

    def predict_strings(self, values: List[bytes], signature: str,
                        version: Optional[int] = None) -> Dict[str, np.ndarray]:
        """Predict on a signature with one string input, sent base64 as TF Serving reads it."""
        body = {"signature_name": signature,
                "instances": [{"b64": base64.b64encode(v).decode()} for v in values]}
        rows = self.predict(body, version)["predictions"]
        if rows and not isinstance(rows[0], dict):  # one output: TF Serving drops its name
            return {SINGLE_OUTPUT: np.array(rows)}
        return {key: np.array([row[key] for row in rows]) for key in rows[0]}

    def predict_images(self, images: List[bytes], version: Optional[int] = None,
                       signature: str = IMAGES_SIGNATURE) -> Dict[str, np.ndarray]:
        return self.predict_strings(images, signature, version)

    def predict_texts(self, texts: List[str], version: Optional[int] = None,
                      signature: str = names.SERVING_TEXT_SIGNATURE) -> Dict[str, np.ndarray]:
        """Texts sent as JSON strings: ``{"signature_name": "serving_text", "instances":
        ["...", ...]}``."""
        rows = self.predict({"signature_name": signature, "instances": list(texts)},
                            version)["predictions"]
        return {key: np.array([row[key] for row in rows]) for key in rows[0]}

    def status(self, version: Optional[int] = None) -> List[dict]:
        return self._request(self._url(version))["model_version_status"]

    def metadata(self, version: Optional[int] = None) -> dict:
        return self._request(self._url(version, "/metadata"))


class GrpcClient:
    """PredictionService.Predict / GetModelMetadata and ModelService.GetModelStatus."""

    def __init__(self, target: str, model_name: str, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 retry: Optional[RetryPolicy] = None, max_message_bytes: int = 64 << 20):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc
        self._grpc = grpc
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)])
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.model_name, self.timeout = model_name, timeout
        self.retry = retry or RetryPolicy()

    def _call(self, method, request):
        def call():
            try:
                return method(request, timeout=self.timeout)
            except self._grpc.RpcError as e:
                code = e.code()
                raise ServingError(code.name, e.details() or "",
                                   retryable=code == self._grpc.StatusCode.UNAVAILABLE) from e
        return self.retry.run(call)

    def _spec(self, spec, version: Optional[int], signature: str = "") -> None:
        spec.name = self.model_name
        if signature:
            spec.signature_name = signature
        if version is not None:
            spec.version.value = version

    def predict_strings(self, input_name: str, values: List[bytes], signature: str,
                        version: Optional[int] = None) -> Dict[str, np.ndarray]:
        """Predict on a signature with one string input (``[batch]``)."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, version, signature)
        request.inputs[input_name].CopyFrom(tf.make_tensor_proto(values, dtype=tf.string))
        response = self._call(self.predictions.Predict, request)
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

    def predict_images(self, images: List[bytes], version: Optional[int] = None,
                       signature: str = IMAGES_SIGNATURE) -> Dict[str, np.ndarray]:
        return self.predict_strings(IMAGES_INPUT, images, signature, version)

    def predict_texts(self, texts: List[str], version: Optional[int] = None,
                      signature: str = names.SERVING_TEXT_SIGNATURE) -> Dict[str, np.ndarray]:
        return self.predict_strings(names.TEXTS_INPUT, [t.encode("utf-8") for t in texts],
                                    signature, version)

    def status(self, version: Optional[int] = None):
        from tensorflow_serving.apis import get_model_status_pb2
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, version)
        return self._call(self.models.GetModelStatus, request).model_version_status

    def metadata(self, version: Optional[int] = None):
        from tensorflow_serving.apis import get_model_metadata_pb2
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec, version)
        response = self._call(self.predictions.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return signature_map

    def close(self) -> None:
        self.channel.close()
