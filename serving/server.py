"""``hubtune serve``: a local stand-in for TF Serving (REST + gRPC over one model).

For development, tests and the demo.  Production serving is TensorFlow Serving;
this implements the subset of its API that hubtune's client uses.
"""

import dataclasses
import logging
from typing import Optional

from hubtune.config.serving_defaults import (DEFAULT_GRPC_PORT, DEFAULT_HOST,
                                             DEFAULT_KEEP_VERSIONS, DEFAULT_MAX_IMAGE_PIXELS,
                                             DEFAULT_MAX_REQUEST_BYTES, DEFAULT_POLL_SECONDS,
                                             DEFAULT_REST_PORT)
from hubtune.serving.grpc_api import GrpcServer
from hubtune.serving.model_store import ModelStore
from hubtune.serving.rest_api import RestLimits, RestServer

LOGGER = logging.getLogger("hubtune.serving")


class LocalModelServer:
    """Model store + REST + gRPC.  Ports of 0 pick free ones (see ``rest_port``/``grpc_port``)."""

    def __init__(self, model_name: str, model_base_path: str, host: str = DEFAULT_HOST,
                 rest_port: Optional[int] = DEFAULT_REST_PORT,
                 grpc_port: Optional[int] = DEFAULT_GRPC_PORT,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
                 poll_seconds: float = DEFAULT_POLL_SECONDS,
                 keep_versions: int = DEFAULT_KEEP_VERSIONS,
                 max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
                 rest_limits: Optional[RestLimits] = None):
        self.store = ModelStore(model_name, model_base_path, keep_versions, poll_seconds,
                                max_image_pixels)
        rest_limits = dataclasses.replace(rest_limits or RestLimits(),
                                          max_request_bytes=max_request_bytes)
        self.rest = (RestServer(self.store, host, rest_port, rest_limits)
                     if rest_port is not None else None)
        self.grpc = (GrpcServer(self.store, host, grpc_port, max_request_bytes)
                     if grpc_port is not None else None)

    @property
    def rest_port(self) -> Optional[int]:
        return self.rest.port if self.rest else None

    @property
    def grpc_port(self) -> Optional[int]:
        return self.grpc.port if self.grpc else None

    def start(self, wait_seconds: float = 120.0) -> bool:
        """Starts serving; True once a version is AVAILABLE within ``wait_seconds``."""
        self.store.start()
        for front in (self.rest, self.grpc):
            if front:
                front.start()
        return self.store.wait_until_available(wait_seconds)

    def stop(self) -> None:
        for front in (self.rest, self.grpc):
            if front:
                front.stop()
        self.store.stop()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
