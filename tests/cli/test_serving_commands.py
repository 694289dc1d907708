"""`hubtune serve`, `hubtune predict` and `hubtune inspect` as a user runs them."""

import signal
import socket
import subprocess
import time

import pytest

from hubtune.serving.client import RestClient, RetryPolicy, ServingError
from tests.conftest import HUBTUNE, png_bomb, run_hubtune
from tests.serving.test_server import MODEL, publish


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hubtune(*args, **kwargs):
    return run_hubtune(*args, timeout=300, **kwargs)


@pytest.fixture
def served(tmp_path, model_versions, serving_images):
    base = str(tmp_path / MODEL)
    publish(model_versions[0], base, 7)
    rest_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [*HUBTUNE, "serve", "--model-name", MODEL,
         "--model-base-path", base, "--rest-port", str(rest_port), "--grpc-port", str(grpc_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = RestClient(f"http://127.0.0.1:{rest_port}", MODEL,
                        retry=RetryPolicy(attempts=60, initial_backoff=0.5, max_backoff=1.0))
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if client.status()[0]["state"] == "AVAILABLE":
                    break
            except ServingError:
                pass
            time.sleep(0.5)
        paths = []
        for i, image in enumerate(serving_images[:2]):
            path = tmp_path / f"img{i}.png"
            path.write_bytes(image)
            paths.append(str(path))
        yield proc, rest_port, grpc_port, paths
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_predict_over_rest_and_grpc_prints_a_class_per_image(served):
    proc, rest_port, grpc_port, paths = served
    by_rest = hubtune("predict", "--url", f"http://127.0.0.1:{rest_port}", "--model-name",
                      MODEL, *paths)
    by_grpc = hubtune("predict", "--grpc", f"127.0.0.1:{grpc_port}", "--model-name", MODEL,
                      *paths)
    for result in (by_rest, by_grpc):
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith(paths[0] + ": ")
        assert "class 0:" in result.stdout or "class 1:" in result.stdout
    assert by_rest.stdout == by_grpc.stdout


def test_predict_reports_what_the_server_answered(served):
    proc, rest_port, _, paths = served
    result = hubtune("predict", "--url", f"http://127.0.0.1:{rest_port}", "--model-name",
                     "missing", *paths)
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr and "missing" in result.stderr


def test_serve_binds_loopback_and_stops_on_sigterm(served):
    proc, rest_port, _, _ = served
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", rest_port), timeout=2).close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    output = proc.stdout.read()
    assert "production serving is TensorFlow Serving" in output


def test_inspect_command(model_versions):
    result = hubtune("inspect", model_versions[0])
    assert result.returncode == 0, result.stderr
    assert "signature 'serving_images'" in result.stdout


def test_predict_refuses_an_image_over_the_pixel_cap_before_sending(served, tmp_path):
    proc, rest_port, _, paths = served
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(3000, 3000))
    result = hubtune("predict", "--url", f"http://127.0.0.1:{rest_port}", "--model-name", MODEL,
                     "--max-image-pixels", "5000000", paths[0], str(bomb))
    assert result.returncode == 2 and result.stdout == ""
    assert str(bomb) in result.stderr and "9,000,000 pixels" in result.stderr
    assert "nothing was sent" in result.stderr
