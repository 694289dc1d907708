"""TF Serving's REST API (the subset hubtune uses) over a ModelStore.

GET  /v1/models/{name}[/versions/{v}]            model status
GET  /v1/models/{name}[/versions/{v}]/metadata   signature defs
POST /v1/models/{name}[/versions/{v}]:predict    row or columnar predict
Errors answer ``{"error": "..."}`` with 400 or 404 (503 before any version loads, or when
every worker is busy); a 500 says only that the server failed (the log has the details).
"""

import dataclasses
import json
import logging
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Optional, Tuple

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from hubtune.config.serving_defaults import (DEFAULT_MAX_REQUEST_BYTES,
                                             DEFAULT_REQUEST_TIMEOUT_SECONDS,
                                             DEFAULT_REST_QUEUE, DEFAULT_REST_WORKERS,
                                             MAX_LINGERING_REFUSALS, REFUSED_LINGER_SECONDS)
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


@dataclasses.dataclass
class RestLimits:
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS  # per connection, idle
    workers: int = DEFAULT_REST_WORKERS                        # connections served at once
    queue: int = DEFAULT_REST_QUEUE                            # connections waiting for one


INTERNAL_ERROR = "internal error while answering the request (details are in the server log)"


def body_length(header: Optional[str], limit: int) -> int:
    """The request body's length from Content-Length: absent is 0; anything that is not a
    non-negative integer within ``limit`` is a bad request (never an unbounded read)."""
    if header is None or not header.strip():
        return 0
    try:
        length = int(header.strip())
    except ValueError:
        raise InvalidArgument(f"Content-Length must be a whole number of bytes, got "
                              f"'{header[:40]}'") from None
    if length < 0:
        raise InvalidArgument(f"Content-Length must not be negative, got {length}")
    if length > limit:
        raise InvalidArgument(f"request body of {length} bytes exceeds the limit of "
                              f"{limit} bytes")
    return length


def make_handler(store: ModelStore, limits: RestLimits):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "hubtune-serve"
        timeout = limits.timeout_seconds  # socket timeout: a slow client cannot hold a worker

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
            except Exception:  # noqa: BLE001 - the server keeps serving; the log has why
                LOGGER.exception("request failed: %s %s", self.command, self.path)
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": INTERNAL_ERROR})

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
            try:
                length = body_length(self.headers.get("Content-Length"),
                                     limits.max_request_bytes)
            except InvalidArgument as e:
                self.close_connection = True  # the body, if any, is not read
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(e)})
                return
            body = self.rfile.read(length)

            def answer():
                name, version, rest = parse_path(self.path)
                if rest != ":predict":
                    raise InvalidArgument(f"POST is only for :predict, not {self.path}")
                return predict_json(store, name, version, body)
            self._answer(answer)

    return Handler


LINGER_READ_BYTES = 65536


class BoundedHTTPServer(HTTPServer):
    """Each connection is served on a fixed pool of worker threads.  When every worker is
    busy and ``queue`` connections already wait, a new one is answered 503 at once
    instead of getting a thread of its own (a crowd of slow clients cannot exhaust the
    process)."""

    BUSY = json.dumps({"error": "the server is busy: every worker is serving a connection; "
                                "retry later"}).encode()

    def __init__(self, address, handler, workers: int, queue: int):
        super().__init__(address, handler)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rest")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._lingering = threading.BoundedSemaphore(MAX_LINGERING_REFUSALS)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        self._pool.submit(self._serve, request, client_address)

    def _serve(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one connection's failure is logged, not fatal
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def _refuse(self, request) -> None:
        try:
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
                            b"\r\nConnection: close\r\nContent-Length: "
                            + str(len(self.BUSY)).encode() + b"\r\n\r\n" + self.BUSY)
        except OSError:
            self.shutdown_request(request)
            return
        if self._lingering.acquire(blocking=False):
            threading.Thread(target=self._linger_then_close, args=(request,),
                             name="rest-refused", daemon=True).start()
        else:
            self.shutdown_request(request)

    def _linger_then_close(self, request) -> None:
        """Reads what a refused client is still sending (its request body), for at most
        REFUSED_LINGER_SECONDS, then closes: closing with unread data would reset the
        connection, and the client could lose the 503 it has not read yet."""
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(REFUSED_LINGER_SECONDS)
            deadline = time.monotonic() + REFUSED_LINGER_SECONDS
            while time.monotonic() < deadline and request.recv(LINGER_READ_BYTES):
                pass
        except OSError:
            pass
        finally:
            request.close()
            self._lingering.release()

    def handle_error(self, request, client_address) -> None:
        LOGGER.warning("connection from %s failed", client_address, exc_info=True)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class RestServer:
    """The REST front end on a bounded worker pool, in a background thread."""

    def __init__(self, store: ModelStore, host: str, port: int,
                 limits: Optional[RestLimits] = None):
        limits = limits or RestLimits()
        self.httpd = BoundedHTTPServer((host, port), make_handler(store, limits),
                                       limits.workers, limits.queue)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="rest",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
