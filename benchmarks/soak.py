"""Serving soak (`make soak`): bounded loopback load on a real `hubtune serve` process.

Concurrency 8 for 10 minutes by default: good requests alternate REST and gRPC, one in
ten requests is malformed (bad JSON, bad base64, bytes that are no image, an unknown
signature, a negative or non-integer Content-Length, a wrong gRPC input), and a new
version is pushed every 30 s through the Pusher's own atomic push (the oldest versions
removed, as a retention job would).  Reports failed good requests (goal 0), malformed
requests that did not get a 4xx answer (goal 0), latency p50/p99 of good requests, and
the server's RSS at start, middle and end (goal: bounded), and appends them to
benchmarks/RESULTS.md.  `soak()` is also what tests/serving/test_soak.py runs briefly.
"""

import argparse
import base64
import concurrent.futures
import dataclasses
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hubtune.components.atomic_pusher import push_atomically  # noqa: E402
from hubtune.serving import model_store  # noqa: E402
from hubtune.serving.client import GrpcClient, RestClient, RetryPolicy, ServingError  # noqa: E402
from hubtune.serving.serve_command import ServerProcess  # noqa: E402

MODEL_NAME = "soak"
KEEP_ON_DISK = 3
MALFORMED_EVERY = 10
RSS_SAMPLE_SECONDS = 5.0


@dataclasses.dataclass
class SoakReport:
    seconds: float
    good: int = 0
    failed_good: List[str] = dataclasses.field(default_factory=list)
    malformed: int = 0
    mishandled_malformed: List[str] = dataclasses.field(default_factory=list)
    latencies: List[float] = dataclasses.field(default_factory=list)
    pushes: int = 0
    rss_mb: List[float] = dataclasses.field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies) or [float("nan")]
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        line = next(ln for ln in f if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _raw_http(port: int, head: str, body: bytes = b"") -> int:
    """Sends raw HTTP (for headers a client library would not send); the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode() + b"\r\n\r\n" + body)
        reply = s.recv(1024).decode(errors="replace")
    return int(reply.split()[1]) if reply.startswith("HTTP/") else 0


def malformed_requests(port: int, rest: RestClient, grpc: GrpcClient,
                       image: bytes) -> List[Callable[[], str]]:
    """Each returns how the server answered: '4xx' is right, anything else is not."""
    path = f"/v1/models/{MODEL_NAME}:predict"

    def http_status(code: int) -> str:
        return "4xx" if 400 <= code < 500 else f"HTTP {code}"

    def rest_body(body: dict) -> str:
        try:
            rest.predict(body)
        except ServingError as e:
            return "4xx" if e.status.startswith("HTTP 4") else e.status
        return "answered 200"

    def grpc_wrong_input() -> str:
        try:
            grpc.predict_strings("no_such_input", [image], "serving_images")
        except ServingError as e:
            return "4xx" if e.status == "INVALID_ARGUMENT" else e.status
        return "answered OK"

    return [
        lambda: http_status(_raw_http(port, f"POST {path} HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Length: 9", b"{not json")),
        lambda: rest_body({"signature_name": "serving_images", "instances": [{"b64": "%%%"}]}),
        lambda: rest_body({"signature_name": "serving_images",
                           "instances": [{"b64": base64.b64encode(b"no image").decode()}]}),
        lambda: rest_body({"signature_name": "no_such_signature", "instances": [1]}),
        lambda: http_status(_raw_http(port, f"POST {path} HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Length: -5")),
        lambda: http_status(_raw_http(port, f"POST {path} HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Length: ten")),
        grpc_wrong_input,
    ]


def _pusher(model_dir: str, base: str, every: float, stop: threading.Event,
            report: SoakReport) -> None:
    while not stop.wait(every):
        push_atomically(model_dir, base)
        report.pushes += 1
        versions = sorted(model_store.version_dirs(base).items())
        for _, path in versions[:-KEEP_ON_DISK]:
            shutil.rmtree(path)


def _good_request(rest: RestClient, grpc: GrpcClient, image: bytes, n: int) -> Optional[str]:
    """None when answered with scores, else what went wrong."""
    try:
        out = (rest if n % 2 else grpc).predict_images([image])
    except ServingError as e:
        return f"{'REST' if n % 2 else 'gRPC'}: {e.status} {e.message[:200]}"
    return None if len(out.get("scores", [])) == 1 else f"answer without scores: {sorted(out)}"


def _worker(i: int, ports, images, deadline: float, report: SoakReport,
            lock: threading.Lock) -> None:
    once = RetryPolicy(attempts=1)
    rest = RestClient(f"http://127.0.0.1:{ports[0]}", MODEL_NAME, retry=once)
    grpc = GrpcClient(f"127.0.0.1:{ports[1]}", MODEL_NAME, retry=once)
    bad = malformed_requests(ports[0], rest, grpc, images[0])
    n = i
    while time.time() < deadline:
        n += 1
        if n % MALFORMED_EVERY == 0:
            answer = bad[(n // MALFORMED_EVERY) % len(bad)]()
            with lock:
                report.malformed += 1
                if answer != "4xx":
                    report.mishandled_malformed.append(answer)
            continue
        start = time.perf_counter()
        problem = _good_request(rest, grpc, images[n % len(images)], n)
        elapsed = time.perf_counter() - start
        with lock:
            report.good += 1
            report.latencies.append(elapsed)
            if problem:
                report.failed_good.append(problem)
    grpc.close()


def soak(model_dir: str, images: List[bytes], seconds: float, push_every: float,
         concurrency: int = 8) -> SoakReport:
    """Serves ``model_dir`` as version 1, then loads it as described in the module doc."""
    report = SoakReport(seconds)
    with tempfile.TemporaryDirectory(prefix="hubtune-soak-") as work:
        base = os.path.join(work, MODEL_NAME)
        push_atomically(model_dir, base)
        server = ServerProcess(MODEL_NAME, base, work, poll_seconds=2)
        try:
            rest = RestClient(f"http://127.0.0.1:{server.ports[0]}", MODEL_NAME)
            while not any(s["state"] == "AVAILABLE" for s in _status(rest)):
                time.sleep(0.5)
            report.rss_mb.append(rss_mb(server.process.pid))
            stop, lock = threading.Event(), threading.Lock()
            threads = [threading.Thread(target=_pusher,
                                        args=(model_dir, base, push_every, stop, report))]
            deadline = time.time() + seconds
            ports = server.ports
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                threads[0].start()
                futures = [pool.submit(_worker, i, ports, images, deadline, report, lock)
                           for i in range(concurrency)]
                while time.time() < deadline:
                    time.sleep(min(RSS_SAMPLE_SECONDS, max(0.0, deadline - time.time())))
                    report.rss_mb.append(rss_mb(server.process.pid))
                for f in futures:
                    f.result()
            stop.set()
            threads[0].join()
        finally:
            server.stop()
    return report


def _status(rest: RestClient) -> List[Dict]:
    try:
        return rest.status()
    except ServingError:
        return []


def summary_lines(report: SoakReport, concurrency: int, push_every: float) -> List[str]:
    rss = report.rss_mb
    return [
        f"{report.seconds:.0f} s at concurrency {concurrency}, a push every {push_every:.0f} s "
        f"({report.pushes} pushes), one request in {MALFORMED_EVERY} malformed",
        f"good requests: {report.good}, failed: {len(report.failed_good)} (goal 0)"
        + (f"; first: {report.failed_good[0]}" if report.failed_good else ""),
        f"malformed requests: {report.malformed}, not answered 4xx: "
        f"{len(report.mishandled_malformed)} (goal 0)"
        + (f"; e.g. {report.mishandled_malformed[0]}" if report.mishandled_malformed else ""),
        f"good-request latency p50 {report.percentile(50) * 1000:.1f} ms, "
        f"p99 {report.percentile(99) * 1000:.1f} ms",
        f"server RSS: start {rss[0]:.0f} MB, middle {rss[len(rss) // 2]:.0f} MB, "
        f"end {rss[-1]:.0f} MB, max {max(rss):.0f} MB",
    ]


def main() -> int:
    from benchmarks.common import append_results
    from benchmarks.serving_bench import model_base_path, sample_images
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--push-every", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        base = model_base_path(work)
        model_dir = max(model_store.version_dirs(base).items())[1]
        report = soak(model_dir, sample_images(16), args.seconds, args.push_every,
                      args.concurrency)
    lines = summary_lines(report, args.concurrency, args.push_every)
    append_results("Serving soak (make soak)", lines)
    print(json.dumps({"failed_good": report.failed_good[:5],
                      "mishandled_malformed": report.mishandled_malformed[:5]}))
    return 0 if not report.failed_good and not report.mishandled_malformed else 1


if __name__ == "__main__":
    sys.exit(main())
