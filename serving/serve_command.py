"""``hubtune serve``'s options and its serving loop, light to import (TensorFlow loads
only when serving starts), and ``ServerProcess``, the same server as a child process.
``python -m hubtune.serving.serve_command`` is the server without the CLI room: the
serving check starts it this way, also inside the pipeline image, which holds the
component rooms only.
"""

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
import time
from typing import Tuple

from hubtune.config import serving_defaults


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--model-base-path", required=True)
    parser.add_argument("--host", default=serving_defaults.DEFAULT_HOST,
                        help="address to bind (default loopback only)")
    parser.add_argument("--rest-port", type=int, default=serving_defaults.DEFAULT_REST_PORT)
    parser.add_argument("--grpc-port", type=int, default=serving_defaults.DEFAULT_GRPC_PORT)
    parser.add_argument("--max-request-bytes", type=int,
                        default=serving_defaults.DEFAULT_MAX_REQUEST_BYTES)
    parser.add_argument("--poll-seconds", type=float,
                        default=serving_defaults.DEFAULT_POLL_SECONDS)
    parser.add_argument("--max-image-pixels", type=int,
                        default=serving_defaults.DEFAULT_MAX_IMAGE_PIXELS,
                        help="refuse images whose header declares more pixels (before decoding)")
    parser.add_argument("--request-timeout", type=float,
                        default=serving_defaults.DEFAULT_REQUEST_TIMEOUT_SECONDS,
                        help="seconds a REST connection may stay idle")
    parser.add_argument("--rest-workers", type=int, default=serving_defaults.DEFAULT_REST_WORKERS,
                        help="REST connections served at once (more wait, then get 503)")


def serve(args) -> int:
    """Serves until SIGTERM or Ctrl-C.  The first line printed names the bound ports."""
    from hubtune.serving.rest_api import RestLimits
    from hubtune.serving.server import LocalModelServer
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    server = LocalModelServer(args.model_name, args.model_base_path, host=args.host,
                              rest_port=args.rest_port, grpc_port=args.grpc_port,
                              max_request_bytes=args.max_request_bytes,
                              poll_seconds=args.poll_seconds,
                              max_image_pixels=args.max_image_pixels,
                              rest_limits=RestLimits(timeout_seconds=args.request_timeout,
                                                     workers=args.rest_workers))
    print(f"hubtune serve (development server; production serving is TensorFlow Serving): "
          f"model '{args.model_name}' from {args.model_base_path}, REST "
          f"http://{args.host}:{server.rest_port}, gRPC {args.host}:{server.grpc_port}",
          flush=True)
    stop = []  # the handler goes in first: a SIGTERM right after the ports open must stop us
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if not server.start(wait_seconds=0):
        print("no version AVAILABLE yet; polling for versions ...", flush=True)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


_PORTS = re.compile(r"REST http://[^:]+:(\d+), gRPC [^:]+:(\d+)")


class ServerProcess:
    """The server in a child process on free loopback ports; ``ports`` is (0, 0) when it
    died before binding them (``tail()`` then says why)."""

    def __init__(self, model_name: str, base_path: str, workdir: str, poll_seconds: float):
        self.log_path = os.path.join(workdir, "serve.log")
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hubtune.serving.serve_command", "--model-name", model_name,
             "--model-base-path", base_path, "--host", "127.0.0.1", "--rest-port", "0",
             "--grpc-port", "0", "--poll-seconds", str(poll_seconds)],
            stdout=subprocess.PIPE, stderr=self._log, text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        # The first line names the ports, printed before loading the model; an interpreter
        # that dies on the way closes stdout, so this does not hang.
        match = _PORTS.search(self.process.stdout.readline())
        self.ports: Tuple[int, int] = (int(match.group(1)), int(match.group(2))) if match \
            else (0, 0)

    def tail(self) -> str:
        self._log.flush()
        with open(self.log_path) as f:
            lines = [ln.strip() for ln in f if ln.strip()]
        return lines[-1] if lines else "(no output)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._log.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hubtune.serving.serve_command")
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
