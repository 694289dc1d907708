"""Submitting and scheduling: the exact requests sent to KFP and Vertex.

No Kubeflow or Vertex is reachable here, so each test stands up a FAKE API server
on loopback (``FakeOrchestratorApi``) that records the requests and answers like
the real service.  The real HTTP client code, JSON bodies, paths and auth
headers are exercised; the fake is only the other end of the socket.
"""

import http.server
import json
import threading

import pytest

from hubtune.kubeflow import submission
from tests.conftest import run_hubtune

JOB = {"displayName": "hubtune-demo", "labels": {"tfx_runner": "kubeflow_v2"},
       "runtimeConfig": {"parameterValues": {}},
       "pipelineSpec": {"pipelineInfo": {"name": "hubtune-demo"},
                        "root": {"dag": {"tasks": {"Trainer": {}}}}}}


class FakeOrchestratorApi:
    """A FAKE KFP / Vertex API server (loopback): records POSTs, answers with a canned id."""

    def __init__(self, status: int = 200):
        self.requests = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                payload = json.dumps({"run_id": "run-1", "name": "projects/p/x/1"}
                                     if status == 200 else {"error": "denied"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api():
    api = FakeOrchestratorApi()
    yield api
    api.close()


def test_kfp_run_request(fake_api):
    client = submission.KfpClient(fake_api.url, token="secret")
    answer = client.create_run(JOB, "gs://bucket/root", experiment_id="exp-7")
    assert answer["run_id"] == "run-1"
    [request] = fake_api.requests
    assert request["path"] == "/apis/v2beta1/runs"
    assert request["auth"] == "Bearer secret"
    assert request["body"] == {
        "display_name": "hubtune-demo", "pipeline_spec": JOB["pipelineSpec"],
        "runtime_config": {"pipeline_root": "gs://bucket/root", "parameters": {}},
        "experiment_id": "exp-7"}


def test_kfp_recurring_run_uses_a_six_field_cron(fake_api):
    submission.KfpClient(fake_api.url).create_recurring_run(JOB, "gs://b/r", "0 3 * * *")
    [request] = fake_api.requests
    assert request["path"] == "/apis/v2beta1/recurringruns"
    assert request["auth"] is None
    body = request["body"]
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert body["mode"] == "ENABLE" and body["max_concurrency"] == "1"
    assert body["pipeline_spec"] == JOB["pipelineSpec"]


def test_vertex_pipeline_job_and_schedule_requests(fake_api):
    client = submission.VertexClient("my-proj", "europe-west4", endpoint=fake_api.url,
                                     token_provider=lambda: "adc-token")
    client.create_pipeline_job(JOB, "gs://b/root", service_account="sa@p.iam")
    client.create_schedule(JOB, "gs://b/root", "0 3 * * 1", service_account="sa@p.iam")
    run, schedule = fake_api.requests
    parent = "projects/my-proj/locations/europe-west4"
    assert run["path"] == f"/v1/{parent}/pipelineJobs"
    assert run["auth"] == "Bearer adc-token"
    assert run["body"]["pipelineSpec"] == JOB["pipelineSpec"]
    assert run["body"]["runtimeConfig"]["gcsOutputDirectory"] == "gs://b/root"
    assert run["body"]["serviceAccount"] == "sa@p.iam"
    assert schedule["path"] == f"/v1/{parent}/schedules"
    assert schedule["body"]["cron"] == "0 3 * * 1"
    assert schedule["body"]["createPipelineJobRequest"] == {"parent": parent,
                                                            "pipelineJob": run["body"]}


def test_refusals_and_unreachable_servers_are_reported():
    api = FakeOrchestratorApi(status=403)
    try:
        with pytest.raises(submission.SubmissionError, match="HTTP 403.*denied"):
            submission.KfpClient(api.url).create_run(JOB, "gs://b/r")
    finally:
        api.close()
    with pytest.raises(submission.SubmissionError, match="cannot reach"):
        submission.KfpClient(api.url).create_run(JOB, "gs://b/r")


@pytest.mark.parametrize("cron", ["0 3 * *", "every day", "0 3 * * * *"])
def test_bad_cron_expressions_are_refused(cron):
    with pytest.raises(submission.SubmissionError, match="5-field cron"):
        submission.kfp_cron(cron)


def test_a_file_that_is_not_a_compiled_pipeline_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(submission.SubmissionError, match="hubtune compile"):
        submission.load_job(str(path))


def _cli_config(tmp_path, kfp_host):
    import yaml
    from tests.pipeline.test_kubeflow_runner import remote_raw
    raw = remote_raw(tmp_path, kfp_host=kfp_host)
    path = tmp_path / "kf.yaml"
    path.write_text(yaml.safe_dump(raw))
    job = tmp_path / "pipeline.json"
    job.write_text(json.dumps(JOB))
    return str(path), str(job)


def test_cli_schedule_reaches_the_kfp_api(fake_api, tmp_path):
    config, job = _cli_config(tmp_path, fake_api.url)
    result = run_hubtune("schedule", "--config", config, "--pipeline", job, "--target", "kfp",
                         "--cron", "30 2 * * 1-5")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "created kfp recurring run" in result.stdout
    [request] = fake_api.requests
    assert request["body"]["trigger"]["cron_schedule"]["cron"] == "0 30 2 * * 1-5"
    assert request["body"]["runtime_config"]["pipeline_root"] == "gs://bucket/root"


def test_cli_submit_explains_the_manual_route_when_it_cannot_submit(tmp_path):
    config, job = _cli_config(tmp_path, "http://127.0.0.1:9")
    result = run_hubtune("submit", "--config", config, "--pipeline", job, "--target", "kfp")
    assert result.returncode == 1
    assert "cannot reach" in result.stderr and "kfp.Client(host=" in result.stderr
    assert "Upload pipeline" in result.stderr
