"""Submitting and scheduling a compiled pipeline: KFP 2.x and Vertex AI, over their REST APIs.

The KFP SDK cannot be installed beside the pinned stack (kfp 2.x needs
kfp-pipeline-spec 0.3 / protobuf 4; TFX 1.16 pins kfp-pipeline-spec 0.2.2 and
protobuf 3.20), so hubtune sends the documented REST requests itself:
KFP ``/apis/v2beta1/runs`` and ``/apis/v2beta1/recurringruns``, Vertex
``projects.locations.pipelineJobs.create`` and ``projects.locations.schedules.create``.
Authentication is a bearer token: ``--token`` / ``KFP_TOKEN`` for KFP, Google
application-default credentials for Vertex.
"""

import json
import os
import re
import urllib.error
import urllib.request
from typing import Callable, Dict, Optional

KFP_RUNS = "/apis/v2beta1/runs"
KFP_RECURRING_RUNS = "/apis/v2beta1/recurringruns"
VERTEX_ENDPOINT = "https://{region}-aiplatform.googleapis.com"
REQUEST_TIMEOUT_SECONDS = 60
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?]+$")


class SubmissionError(RuntimeError):
    """The orchestrator refused the request (its answer is in the message)."""


def load_job(path: str) -> Dict:
    """The PipelineJob JSON that ``hubtune compile`` wrote."""
    with open(path) as f:
        job = json.load(f)
    if "pipelineSpec" not in job:
        raise SubmissionError(f"{path} is not a compiled pipeline (no pipelineSpec); create it "
                              "with `hubtune compile --config FILE --output pipeline.json`")
    return job


def check_cron(cron: str) -> str:
    """A standard 5-field cron expression (minute hour day month weekday)."""
    fields = cron.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise SubmissionError(f"--cron {cron!r} is not a 5-field cron expression such as "
                              "'0 3 * * *' (03:00 every day)")
    return " ".join(fields)


def kfp_cron(cron: str) -> str:
    """KFP's scheduler takes 6 fields with seconds first: '0 3 * * *' -> '0 0 3 * * *'."""
    return "0 " + check_cron(cron)


def _post(url: str, body: Dict, token: Optional[str]) -> Dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:2000]
        raise SubmissionError(f"{url} answered HTTP {e.code}: {detail}") from e
    except urllib.error.URLError as e:
        raise SubmissionError(f"cannot reach {url}: {e.reason}") from e


class KfpClient:
    """Kubeflow Pipelines 2.x API server (e.g. http://localhost:8080 via port-forward)."""

    def __init__(self, host: str, token: Optional[str] = None):
        self.host = host.rstrip("/")
        self.token = token

    def _run_fields(self, job: Dict, pipeline_root: str, experiment_id: Optional[str]) -> Dict:
        fields = {"display_name": job.get("displayName", "hubtune"),
                  "pipeline_spec": job["pipelineSpec"],
                  "runtime_config": {"pipeline_root": pipeline_root,
                                     "parameters": job.get("runtimeConfig", {})
                                     .get("parameterValues", {})}}
        if experiment_id:
            fields["experiment_id"] = experiment_id
        return fields

    def create_run(self, job: Dict, pipeline_root: str,
                   experiment_id: Optional[str] = None) -> Dict:
        return _post(self.host + KFP_RUNS, self._run_fields(job, pipeline_root, experiment_id),
                     self.token)

    def create_recurring_run(self, job: Dict, pipeline_root: str, cron: str,
                             experiment_id: Optional[str] = None) -> Dict:
        body = self._run_fields(job, pipeline_root, experiment_id)
        body.update({"trigger": {"cron_schedule": {"cron": kfp_cron(cron)}},
                     "mode": "ENABLE", "max_concurrency": "1", "no_catchup": True})
        return _post(self.host + KFP_RECURRING_RUNS, body, self.token)


def google_token() -> str:
    """An access token from Google application-default credentials."""
    import google.auth
    import google.auth.transport.requests
    credentials, _ = google.auth.default(
        scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(google.auth.transport.requests.Request())
    return credentials.token


class VertexClient:
    """Vertex AI Pipelines (aiplatform v1 REST API)."""

    def __init__(self, project: str, region: str, endpoint: Optional[str] = None,
                 token_provider: Callable[[], str] = google_token):
        self.project, self.region = project, region
        self.endpoint = (endpoint or VERTEX_ENDPOINT.format(region=region)).rstrip("/")
        self.token_provider = token_provider

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def pipeline_job(self, job: Dict, pipeline_root: str,
                     service_account: Optional[str] = None) -> Dict:
        body = {"displayName": job.get("displayName", "hubtune"),
                "pipelineSpec": job["pipelineSpec"],
                "labels": job.get("labels", {}),
                "runtimeConfig": dict(job.get("runtimeConfig", {}),
                                      gcsOutputDirectory=pipeline_root)}
        if service_account:
            body["serviceAccount"] = service_account
        return body

    def create_pipeline_job(self, job: Dict, pipeline_root: str,
                            service_account: Optional[str] = None) -> Dict:
        return _post(f"{self.endpoint}/v1/{self.parent}/pipelineJobs",
                     self.pipeline_job(job, pipeline_root, service_account),
                     self.token_provider())

    def create_schedule(self, job: Dict, pipeline_root: str, cron: str,
                        service_account: Optional[str] = None) -> Dict:
        body = {"displayName": f"{job.get('displayName', 'hubtune')}-schedule",
                "cron": check_cron(cron), "maxConcurrentRunCount": "1",
                "createPipelineJobRequest": {
                    "parent": self.parent,
                    "pipelineJob": self.pipeline_job(job, pipeline_root, service_account)}}
        return _post(f"{self.endpoint}/v1/{self.parent}/schedules", body,
                     self.token_provider())


def manual_instructions(target: str, pipeline_path: str, kf, cron: Optional[str]) -> str:
    """What to run by hand when hubtune cannot submit (no network path, no credentials)."""
    if target == "kfp":
        call = (f"client.create_recurring_run(experiment_id=..., job_name='hubtune', "
                f"cron_expression='{kfp_cron(cron)}', pipeline_package_path='{pipeline_path}')"
                if cron else
                f"client.create_run_from_pipeline_package('{pipeline_path}', arguments={{}})")
        return ("to submit by hand, in an environment with the KFP SDK (pip install 'kfp>=2', "
                "which cannot share a venv with TFX 1.16's protobuf 3.20):\n"
                f"  import kfp; client = kfp.Client(host='{kf.kfp_host or 'http://HOST'}'); "
                f"{call}\nor upload {pipeline_path} in the KFP UI (Pipelines > Upload pipeline).")
    schedule = (f"job.create_schedule(cron='{cron}', display_name='hubtune')" if cron
                else "job.submit()")
    return ("to submit by hand with the Vertex AI SDK (google-cloud-aiplatform, installed "
            "beside TFX):\n  from google.cloud import aiplatform\n"
            f"  aiplatform.init(project='{kf.vertex_project or 'PROJECT'}', "
            f"location='{kf.vertex_region}')\n"
            f"  job = aiplatform.PipelineJob(display_name='hubtune', template_path="
            f"'{pipeline_path}', pipeline_root='{kf.pipeline_root or 'gs://BUCKET/ROOT'}')\n"
            f"  {schedule}")


def submit(kf, pipeline_path: str, target: str, cron: Optional[str] = None) -> Dict:
    """One run (or, with ``cron``, a recurring run / schedule) of a compiled pipeline on
    ``target`` ("kfp" or "vertex"), configured by the config's ``kubeflow`` section."""
    job = load_job(pipeline_path)
    if target == "kfp":
        if not kf.kfp_host:
            raise SubmissionError(
                "'kubeflow.kfp_host' is empty: set the KFP API address (e.g. "
                "http://localhost:8080 after `kubectl port-forward -n kubeflow "
                "svc/ml-pipeline-ui 8080:80`)")
        client = KfpClient(kf.kfp_host, os.environ.get("KFP_TOKEN"))
        return (client.create_recurring_run(job, kf.pipeline_root, cron) if cron
                else client.create_run(job, kf.pipeline_root))
    if not kf.vertex_project:
        raise SubmissionError("'kubeflow.vertex_project' is empty")
    vertex = VertexClient(kf.vertex_project, kf.vertex_region)
    account = kf.service_account or None
    return (vertex.create_schedule(job, kf.pipeline_root, cron, account) if cron
            else vertex.create_pipeline_job(job, kf.pipeline_root, account))
