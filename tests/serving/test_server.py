"""The local TF-Serving-protocol server and the client, over real sockets on loopback."""

import base64
import http.client
import json
import os
import shutil
import socket
import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from hubtune.config import names
from hubtune.serving import inspect_model
from hubtune.serving.client import GrpcClient, RestClient, RetryPolicy, ServingError
from hubtune.serving.rest_api import INTERNAL_ERROR, RestLimits
from hubtune.serving.server import LocalModelServer
from hubtune.trainer_module import warmup_requests
from tests.conftest import example, png_bomb

MODEL = "defects"


def publish(src: str, base: str, version: int) -> str:
    """Copies a model into place the way the Pusher does (hidden copy, then rename)."""
    os.makedirs(base, exist_ok=True)
    staging = os.path.join(base, f".{version}.incomplete")
    shutil.copytree(src, staging)
    final = os.path.join(base, str(version))
    os.rename(staging, final)
    return final


def in_process(path: str, images) -> np.ndarray:
    fn = tf.saved_model.load(path).signatures[names.SERVING_IMAGES_SIGNATURE]
    return fn(images=tf.constant(images))["scores"].numpy()


@pytest.fixture
def server(tmp_path, model_versions):
    base = str(tmp_path / MODEL)
    publish(model_versions[0], base, 1)
    srv = LocalModelServer(MODEL, base, rest_port=0, grpc_port=0, poll_seconds=0.2,
                           max_request_bytes=200_000, max_image_pixels=1_000_000)
    assert srv.start(wait_seconds=60)
    yield srv, base
    srv.stop()


@pytest.fixture
def tight_server(tmp_path, model_versions):
    """REST with 2 workers, no queue and a 1 s idle timeout."""
    base = str(tmp_path / MODEL)
    publish(model_versions[0], base, 1)
    srv = LocalModelServer(MODEL, base, rest_port=0, grpc_port=None, poll_seconds=0.2,
                           rest_limits=RestLimits(timeout_seconds=1.0, workers=2, queue=0))
    assert srv.start(wait_seconds=60)
    yield srv
    srv.stop()


def rest_post(srv, path: str, body: bytes):
    request = urllib.request.Request(f"http://127.0.0.1:{srv.rest_port}{path}", data=body,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def b64_body(images, signature=names.SERVING_IMAGES_SIGNATURE) -> bytes:
    return json.dumps({"signature_name": signature,
                       "instances": [{"b64": base64.b64encode(i).decode()} for i in images]}
                      ).encode()


def test_rest_and_grpc_match_in_process(server, model_versions, serving_images):
    srv, _ = server
    expected = in_process(model_versions[0], serving_images)
    rest = RestClient(f"http://127.0.0.1:{srv.rest_port}", MODEL).predict_images(serving_images)
    grpc_out = GrpcClient(f"127.0.0.1:{srv.grpc_port}", MODEL).predict_images(serving_images)
    for out in (rest, grpc_out):
        np.testing.assert_allclose(out["scores"], expected, atol=1e-5)
        assert list(out["class_ids"]) == list(expected.argmax(axis=1))
    assert [c.decode() for c in grpc_out["classes"]] == list(rest["classes"])


def test_rest_serving_default_takes_tf_examples(server, model_versions, serving_images):
    srv, _ = server
    examples = [tf.train.Example(features=tf.train.Features(feature={"image": tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[i]))})).SerializeToString() for i in serving_images]
    status, out = rest_post(srv, f"/v1/models/{MODEL}:predict", b64_body(examples,
                                                                         "serving_default"))
    assert status == 200
    np.testing.assert_allclose([p["scores"] for p in out["predictions"]],
                               in_process(model_versions[0], serving_images), atol=1e-5)


def test_status_and_metadata(server):
    srv, _ = server
    rest = RestClient(f"http://127.0.0.1:{srv.rest_port}", MODEL)
    assert rest.status() == [{"version": "1", "state": "AVAILABLE",
                              "status": {"error_code": "OK", "error_message": ""}}]
    signatures = rest.metadata()["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "serving_images", "transform_features"} <= set(signatures)
    assert set(signatures["serving_images"]["outputs"]) == {"scores", "class_ids", "classes"}
    client = GrpcClient(f"127.0.0.1:{srv.grpc_port}", MODEL)
    [status] = client.status()
    assert (status.version, status.state) == (1, 30)  # AVAILABLE
    assert "images" in client.metadata().signature_def["serving_images"].inputs


BAD_REST_REQUESTS = [
    ("malformed JSON", f"/v1/models/{MODEL}:predict", b"{not json", 400, "JSON Parse error"),
    ("no instances", f"/v1/models/{MODEL}:predict", b'{"signature_name": "serving_images"}',
     400, "exactly one of 'instances'"),
    ("invalid b64", f"/v1/models/{MODEL}:predict",
     b'{"signature_name": "serving_images", "instances": [{"b64": "@@@"}]}', 400, "base64"),
    ("missing b64", f"/v1/models/{MODEL}:predict",
     b'{"signature_name": "serving_images", "instances": [{}]}', 400, "takes inputs"),
    ("undecodable image", f"/v1/models/{MODEL}:predict",
     b'{"signature_name": "serving_images", "instances": [{"b64": "aGVsbG8="}]}', 400, ""),
    ("unknown signature", f"/v1/models/{MODEL}:predict",
     b'{"signature_name": "nope", "instances": [1]}', 400, "nope"),
    ("unknown model", "/v1/models/other:predict", b'{"instances": [1]}', 404, "other"),
    ("unknown version", f"/v1/models/{MODEL}/versions/99:predict", b'{"instances": [1]}',
     404, "99"),
    ("oversized body", f"/v1/models/{MODEL}:predict", b"x" * 300_000, 400, "exceeds the limit"),
]


@pytest.mark.parametrize("case", BAD_REST_REQUESTS, ids=[c[0] for c in BAD_REST_REQUESTS])
def test_bad_rest_requests_get_errors_and_server_keeps_serving(server, serving_images, case):
    srv, _ = server
    _, path, body, code, text = case
    status, payload = rest_post(srv, path, body)
    assert status == code
    assert set(payload) == {"error"} and text in payload["error"]
    status, payload = rest_post(srv, f"/v1/models/{MODEL}:predict", b64_body(serving_images[:1]))
    assert status == 200 and len(payload["predictions"]) == 1


def _grpc_predict(srv, name=MODEL, version=None, signature="serving_images", images=(b"x",)):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}"))
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = name, signature
    if version is not None:
        request.model_spec.version.value = version
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(list(images), dtype=tf.string))
    return stub.Predict(request, timeout=30)


@pytest.mark.parametrize("kwargs,code", [
    ({"name": "other"}, grpc.StatusCode.NOT_FOUND),
    ({"version": 99}, grpc.StatusCode.NOT_FOUND),
    ({"signature": "nope"}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"images": [b"not an image"]}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"images": [b"x" * 300_000]}, grpc.StatusCode.INVALID_ARGUMENT),
], ids=["unknown model", "unknown version", "unknown signature", "undecodable image",
        "oversized"])
def test_bad_grpc_requests_map_to_status_codes(server, serving_images, kwargs, code):
    srv, _ = server
    with pytest.raises(grpc.RpcError) as error:
        _grpc_predict(srv, **kwargs)
    assert error.value.code() == code
    assert _grpc_predict(srv, images=serving_images[:1]).model_spec.version.value == 1


def test_new_version_switches_without_failed_requests(server, model_versions, serving_images):
    srv, base = server
    expected = {1: in_process(model_versions[0], serving_images[:1]),
                2: in_process(model_versions[1], serving_images[:1])}
    assert not np.allclose(expected[1], expected[2])
    client = RestClient(f"http://127.0.0.1:{srv.rest_port}", MODEL, retry=RetryPolicy(attempts=1))
    answered, failures, stop = [], [], threading.Event()

    def stream():
        while not stop.is_set() and len(answered) < 5000:
            try:
                scores = client.predict_images(serving_images[:1])["scores"]
                answered.append(next(v for v, e in expected.items()
                                     if np.allclose(scores, e, atol=1e-5)))
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))

    thread = threading.Thread(target=stream)
    thread.start()
    time.sleep(1.0)
    publish(model_versions[1], base, 2)
    deadline = time.time() + 60
    while time.time() < deadline and (not answered or answered[-1] != 2):
        time.sleep(0.2)
    time.sleep(0.5)
    stop.set()
    thread.join(timeout=30)
    assert failures == []
    assert answered[0] == 1 and answered[-1] == 2
    switch = answered.index(2)
    assert all(v == 2 for v in answered[switch:])  # once switched, never back


def test_broken_versions_are_skipped_and_latest_two_kept(server, model_versions, serving_images):
    srv, base = server
    os.makedirs(os.path.join(base, "5", "variables"))  # half-written: no saved_model.pb
    broken = os.path.join(base, "6")
    os.makedirs(broken)
    with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
        f.write(b"garbage")
    publish(model_versions[1], base, 2)
    publish(model_versions[2], base, 3)
    rest = RestClient(f"http://127.0.0.1:{srv.rest_port}", MODEL)
    deadline = time.time() + 60
    while time.time() < deadline:
        states = {s["version"]: s for s in rest.status()}
        if ({v: states.get(v, {}).get("state") for v in ("1", "2", "3")} ==
                {"1": "END", "2": "AVAILABLE", "3": "AVAILABLE"} and "6" in states):
            break
        time.sleep(0.2)
    assert states["6"]["state"] == "END" and states["6"]["status"]["error_message"]
    assert "5" not in states  # incomplete: not tried yet
    assert states["3"]["state"] == "AVAILABLE" and states["2"]["state"] == "AVAILABLE"
    assert states["1"]["state"] == "END"  # only the latest 2 are kept
    np.testing.assert_allclose(rest.predict_images(serving_images[:2])["scores"],
                               in_process(model_versions[2], serving_images[:2]), atol=1e-5)
    np.testing.assert_allclose(rest.predict_images(serving_images[:2], version=2)["scores"],
                               in_process(model_versions[1], serving_images[:2]), atol=1e-5)


def test_client_retries_until_a_restarting_server_is_back(tmp_path, model_versions,
                                                          serving_images):
    base = str(tmp_path / MODEL)
    publish(model_versions[0], base, 1)
    first = LocalModelServer(MODEL, base, rest_port=0, grpc_port=None)
    assert first.start(wait_seconds=60)
    port = first.rest_port
    first.stop()  # the server goes away ...
    restarted = []

    def restart():
        time.sleep(1.5)  # ... and comes back on the same port
        srv = LocalModelServer(MODEL, base, rest_port=port, grpc_port=None)
        srv.start(wait_seconds=60)
        restarted.append(srv)

    threading.Thread(target=restart).start()
    client = RestClient(f"http://127.0.0.1:{port}", MODEL,
                        retry=RetryPolicy(attempts=12, initial_backoff=0.2, max_backoff=1.0))
    try:
        out = client.predict_images(serving_images[:1])
        assert out["scores"].shape == (1, 3)
    finally:
        for srv in restarted:
            srv.stop()


def test_client_does_not_retry_bad_requests(server):
    srv, _ = server
    calls = []
    client = RestClient(f"http://127.0.0.1:{srv.rest_port}", MODEL,
                        retry=RetryPolicy(attempts=5, initial_backoff=0.01))
    original = client.retry.run
    client.retry.run = lambda call: original(lambda: calls.append(1) or call())
    with pytest.raises(ServingError) as error:
        client.predict_images([b"not an image"])
    assert error.value.status == "HTTP 400" and len(calls) == 1


def test_warmup_requests_written_at_export_and_replayed(model_versions):
    logs = warmup_requests.read_warmup_requests(model_versions[0])
    signatures = {log.predict_log.request.model_spec.signature_name for log in logs}
    assert signatures == {names.SERVING_IMAGES_SIGNATURE, names.SERVING_EXAMPLES_SIGNATURE}
    assert len(logs) == 2 * 2 + 2  # two images: one request each per signature, plus a batch


def test_inspect_lists_signatures(model_versions):
    text = "\n".join(inspect_model.describe(model_versions[0]))
    assert "signature 'serving_images'" in text and "signature 'serving_default'" in text
    assert "input  images" in text and "string" in text
    assert "output scores" in text and "float32  [batch, 3]" in text
    assert "warmup requests: 6" in text


def raw_post(srv, headers: dict, body: bytes = b"") -> tuple:
    """A POST with hand-set headers (urllib would fix Content-Length)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.rest_port, timeout=30)
    conn.putrequest("POST", f"/v1/models/{MODEL}:predict", skip_accept_encoding=True)
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders(body)
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


@pytest.mark.parametrize("length, text", [("-5", "must not be negative"),
                                          ("12abc", "whole number"), ("1e9", "whole number"),
                                          ("99999999999", "exceeds the limit")])
def test_bad_content_length_gets_a_json_error_and_no_unbounded_read(server, serving_images,
                                                                    length, text):
    srv, _ = server
    status, payload = raw_post(srv, {"Content-Length": length}, b'{"instances": [1]}')
    assert status == 400 and text in payload["error"]
    status, payload = rest_post(srv, f"/v1/models/{MODEL}:predict", b64_body(serving_images[:1]))
    assert status == 200 and len(payload["predictions"]) == 1


def test_a_failure_inside_the_server_answers_500_without_its_details(server, serving_images,
                                                                     monkeypatch):
    srv, _ = server

    def broken(*args, **kwargs):  # an injected fault inside the real server
        raise RuntimeError("disk /srv/secret/models/7 unreadable")

    monkeypatch.setattr(srv.store, "get", broken)
    status, payload = rest_post(srv, f"/v1/models/{MODEL}:predict", b64_body(serving_images[:1]))
    assert status == 500 and payload == {"error": INTERNAL_ERROR}
    monkeypatch.undo()
    status, _ = rest_post(srv, f"/v1/models/{MODEL}:predict", b64_body(serving_images[:1]))
    assert status == 200


def _idle_connection(port: int) -> socket.socket:
    """A client that sends half a request line and then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"POST /v1/models/")
    return sock


def test_a_slow_client_is_disconnected_after_the_timeout(tight_server):
    sock = _idle_connection(tight_server.rest_port)
    started = time.monotonic()
    assert sock.recv(1024) == b""  # the server closed it
    assert time.monotonic() - started < 10
    sock.close()


def test_workers_are_bounded_and_a_full_server_answers_503(tight_server, serving_images):
    idle = [_idle_connection(tight_server.rest_port) for _ in range(2)]
    time.sleep(0.3)  # both are now held by the two workers
    status, payload = rest_post(tight_server, f"/v1/models/{MODEL}:predict",
                                b64_body(serving_images[:1]))
    assert status == 503 and "busy" in payload["error"]
    # A client still sending a large body reads its 503 too: the refused connection is not
    # reset under it (measured before the fix: a broken pipe instead).
    status, payload = rest_post(tight_server, f"/v1/models/{MODEL}:predict",
                                b64_body(serving_images[:1] * 200))
    assert status == 503 and "busy" in payload["error"]
    for sock in idle:
        sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, payload = rest_post(tight_server, f"/v1/models/{MODEL}:predict",
                                    b64_body(serving_images[:1]))
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200 and len(payload["predictions"]) == 1
    assert threading.active_count() < 40  # no thread per connection


def test_an_image_over_the_pixel_cap_is_refused_before_decoding(server, serving_images):
    srv, _ = server
    bomb = png_bomb(2000, 2000)  # 4 MP, over this server's 1 MP cap
    status, payload = rest_post(srv, f"/v1/models/{MODEL}:predict", b64_body([bomb]))
    assert status == 400 and "2000x2000 = 4,000,000 pixels" in payload["error"]
    as_example = example({"image": bomb}).SerializeToString()
    status, payload = rest_post(srv, f"/v1/models/{MODEL}:predict",
                                b64_body([as_example], signature="serving_default"))
    assert status == 400 and "over the limit of 1,000,000" in payload["error"]
    with pytest.raises(grpc.RpcError) as error:
        _grpc_predict(srv, images=[bomb])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "4,000,000 pixels" in error.value.details()
    status, _ = rest_post(srv, f"/v1/models/{MODEL}:predict", b64_body(serving_images[:1]))
    assert status == 200
