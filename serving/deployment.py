"""TF Serving deployment assets, generated from the pipeline config.

``models.config`` (latest-2 version policy for rollback), ``batching_parameters.txt``,
``monitoring.config`` (Prometheus), ``docker-compose.yml`` running the
``tensorflow/serving`` image of the pinned stack, and Kubernetes manifests
(ConfigMap, Deployment with a readiness probe on the model-status URL, Service,
HorizontalPodAutoscaler, and a PersistentVolumeClaim unless models live on gs://).
Model name and base path come from ``serving.model_name`` / ``serving.base_dir``.
"""

import os
from typing import Dict

import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from hubtune import config as config_lib
from hubtune.config import serving_defaults as defaults
from hubtune.serving.tf_serving_protos import BatchingParameters, MonitoringConfig

MODELS_CONFIG = "models.config"
BATCHING_FILE = "batching_parameters.txt"
MONITORING_FILE = "monitoring.config"
COMPOSE_FILE = "docker-compose.yml"
K8S_DIR = "kubernetes"


def model_base_path(config: config_lib.Config) -> str:
    """The model's base path as TF Serving sees it (gs:// as is, else the mounted volume)."""
    if config_lib.is_remote(config.serving.base_dir):
        return config.serving_model_dir
    return f"{defaults.MODEL_MOUNT}/{config.serving.model_name}"


def models_config(config: config_lib.Config) -> str:
    server_config = model_server_config_pb2.ModelServerConfig()
    model = server_config.model_config_list.config.add(
        name=config.serving.model_name, base_path=model_base_path(config),
        model_platform="tensorflow")
    model.model_version_policy.latest.num_versions = defaults.DEFAULT_KEEP_VERSIONS
    return text_format.MessageToString(server_config)


def batching_parameters() -> str:
    params = BatchingParameters()
    for key, value in defaults.BATCHING.items():
        getattr(params, key).value = value
    return text_format.MessageToString(params)


def monitoring_config() -> str:
    monitoring = MonitoringConfig()
    monitoring.prometheus_config.enable = True
    monitoring.prometheus_config.path = defaults.PROMETHEUS_PATH
    return text_format.MessageToString(monitoring)


def server_args() -> list:
    c = defaults.CONFIG_MOUNT
    return [f"--port={defaults.DEFAULT_GRPC_PORT}", f"--rest_api_port={defaults.DEFAULT_REST_PORT}",
            f"--model_config_file={c}/{MODELS_CONFIG}",
            f"--model_config_file_poll_wait_seconds={defaults.MODEL_CONFIG_POLL_SECONDS}",
            "--enable_batching=true", f"--batching_parameters_file={c}/{BATCHING_FILE}",
            f"--monitoring_config_file={c}/{MONITORING_FILE}"]


def docker_compose(config: config_lib.Config) -> dict:
    volumes = [f"./:{defaults.CONFIG_MOUNT}:ro"]
    if not config_lib.is_remote(config.serving.base_dir):
        volumes.insert(0, f"{os.path.abspath(config.serving.base_dir)}:{defaults.MODEL_MOUNT}:ro")
    return {"services": {"tf-serving": {
        "image": defaults.TF_SERVING_IMAGE,
        "ports": [f"{defaults.DEFAULT_GRPC_PORT}:{defaults.DEFAULT_GRPC_PORT}",
                  f"{defaults.DEFAULT_REST_PORT}:{defaults.DEFAULT_REST_PORT}"],
        "volumes": volumes,
        "command": server_args(),
        "restart": "unless-stopped",
    }}}


def kubernetes(config: config_lib.Config) -> Dict[str, dict]:
    name = f"{config.serving.model_name}-serving"
    labels = {"app": name}
    volumes = [{"name": "config", "configMap": {"name": f"{name}-config"}}]
    mounts = [{"name": "config", "mountPath": defaults.CONFIG_MOUNT, "readOnly": True}]
    manifests = {}
    if not config_lib.is_remote(config.serving.base_dir):
        claim = f"{name}-models"
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": claim,
                                                                    "readOnly": True}})
        mounts.append({"name": "models", "mountPath": defaults.MODEL_MOUNT, "readOnly": True})
        manifests["persistentvolumeclaim.yaml"] = {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
            "spec": {"accessModes": ["ReadOnlyMany"],
                     "resources": {"requests": {"storage": "10Gi"}}}}
    manifests["configmap.yaml"] = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-config"},
        "data": {MODELS_CONFIG: models_config(config), BATCHING_FILE: batching_parameters(),
                 MONITORING_FILE: monitoring_config()}}
    manifests["deployment.yaml"] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": defaults.K8S_MIN_REPLICAS, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "containers": [{
                         "name": "tf-serving", "image": defaults.TF_SERVING_IMAGE,
                         "args": server_args(),
                         "ports": [{"name": "grpc", "containerPort": defaults.DEFAULT_GRPC_PORT},
                                   {"name": "http", "containerPort": defaults.DEFAULT_REST_PORT}],
                         "readinessProbe": {"httpGet": {
                             "path": f"/v1/models/{config.serving.model_name}",
                             "port": defaults.DEFAULT_REST_PORT},
                             "initialDelaySeconds": 10, "periodSeconds": 5},
                         "livenessProbe": {"tcpSocket": {"port": defaults.DEFAULT_GRPC_PORT},
                                           "initialDelaySeconds": 30, "periodSeconds": 10},
                         "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                                       "limits": {"memory": "4Gi"}},
                         "volumeMounts": mounts}],
                     "volumes": volumes}}}}
    manifests["service.yaml"] = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [
            {"name": "grpc", "port": defaults.DEFAULT_GRPC_PORT, "targetPort": "grpc"},
            {"name": "http", "port": defaults.DEFAULT_REST_PORT, "targetPort": "http"}]}}
    manifests["hpa.yaml"] = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                 "minReplicas": defaults.K8S_MIN_REPLICAS,
                 "maxReplicas": defaults.K8S_MAX_REPLICAS,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization",
                     "averageUtilization": defaults.K8S_TARGET_CPU_PERCENT}}}]}}
    return manifests


def write_assets(config: config_lib.Config, out_dir: str) -> Dict[str, str]:
    """Writes every asset under ``out_dir``; returns {relative name: path}."""
    files = {MODELS_CONFIG: models_config(config), BATCHING_FILE: batching_parameters(),
             MONITORING_FILE: monitoring_config(),
             COMPOSE_FILE: yaml.safe_dump(docker_compose(config), sort_keys=False)}
    for name, manifest in kubernetes(config).items():
        files[f"{K8S_DIR}/{name}"] = yaml.safe_dump(manifest, sort_keys=False)
    written = {}
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        written[name] = path
    return written
