"""TF Serving's REST API (the subset hubtune uses) over a ModelStore.

GET  /v1/models/{name}[/versions/{v}]            model status
GET  /v1/models/{name}[/versions/{v}]/metadata   signature defs
POST /v1/models/{name}[/versions/{v}]:predict    row or columnar predict
Errors answer ``{"error": "..."}`` with 400 or 404 (503 before any version loads).
"""

import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from hubtune.config.serving_defaults import DEFAULT_MAX_REQUEST_BYTES
from hubtune.serving import json_codec
from hubtune.serving.errors import InvalidArgument, NotFound, ServingRequestError
from hubtune.serving.model_store import ModelStore

LOGGER = logging.getLogger("hubtune.serving")
_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
                   r"(?P<rest>/metadata|:predict)?$")


def parse_path(path: str) -> Tuple[str, Optional[int], str]:
    """(model name, version or None, '' | '/metadata' | ':predict')."""
    match = _PATH.match(path.split("?", 1)[0])
    if not match:
        raise NotFound(f"Malformed request: {path}")
    version = match.group("version")
    if version is not None and not version.isdigit():
        raise InvalidArgument(f"version must be a number, got '{version}'")
    return match.group("name"), int(version) if version else None, match.group("rest") or ""


def status_json(store: ModelStore, name: str, version: Optional[int]) -> dict:
    return {"model_version_status": [
        {"version": str(s["version"]), "state": s["state"],
         "status": {"error_code": "UNKNOWN" if s["error"] else "OK",
                    "error_message": s["error"]}}
        for s in store.status(name, version)]}


def metadata_json(store: ModelStore, name: str, version: Optional[int]) -> dict:
    loaded = store.get(name, version)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, value in loaded.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(value)
    return {"model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
            "metadata": {"signature_def": json_format.MessageToDict(
                signature_map, preserving_proto_field_name=True)}}


def predict_json(store: ModelStore, name: str, version: Optional[int], body: bytes) -> dict:
    loaded = store.get(name, version)
    try:
        signature = json.loads(body).get("signature_name", "serving_default")
    except (ValueError, AttributeError):
        signature = "serving_default"  # the parser below reports the malformed body
    if not isinstance(signature, str):
        raise InvalidArgument("'signature_name' must be a string")
    input_names = sorted(loaded.input_specs(signature))
    inputs, row_format = json_codec.parse_predict_body(body, input_names)
    return json_codec.predict_response(loaded.predict(signature, inputs), row_format)


def make_handler(store: ModelStore, max_request_bytes: int):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "hubtune-serve"

        def log_message(self, fmt, *args):  # route to logging, not stderr
            LOGGER.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, fn) -> None:
            try:
                self._send(HTTPStatus.OK, fn())
            except ServingRequestError as e:
                self._send(e.http_status, {"error": str(e)})
            except Exception as e:  # noqa: BLE001 - the server keeps serving
                LOGGER.exception("request failed")
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(e)})

        def do_GET(self):
            def answer():
                name, version, rest = parse_path(self.path)
                if rest == "/metadata":
                    return metadata_json(store, name, version)
                if rest == ":predict":
                    raise InvalidArgument("predict takes POST")
                return status_json(store, name, version)
            self._answer(answer)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_request_bytes:
                self.close_connection = True
                self._send(HTTPStatus.BAD_REQUEST, {
                    "error": f"request body of {length} bytes exceeds the limit of "
                             f"{max_request_bytes} bytes"})
                return
            body = self.rfile.read(length)

            def answer():
                name, version, rest = parse_path(self.path)
                if rest != ":predict":
                    raise InvalidArgument(f"POST is only for :predict, not {self.path}")
                return predict_json(store, name, version, body)
            self._answer(answer)

    return Handler


class RestServer:
    """A threaded HTTP server in a background thread."""

    def __init__(self, store: ModelStore, host: str, port: int,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES):
        self.httpd = ThreadingHTTPServer((host, port), make_handler(store, max_request_bytes))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="rest",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
