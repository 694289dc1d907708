#!/usr/bin/env bash
# Builds and pushes the hubtune pipeline image:  bash kubeflow/build_image.sh IMAGE_URI [--no-push]
# e.g. IMAGE_URI=europe-west4-docker.pkg.dev/my-project/ml/hubtune:1.0  (then set it as
# kubeflow.image in the config and run `hubtune compile`).
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:?usage: bash kubeflow/build_image.sh IMAGE_URI [--no-push]}"
push="${2:-}"
command -v docker >/dev/null || { echo "docker is not installed here: build on a machine with" \
  "Docker, or with Cloud Build:  gcloud builds submit --tag $image -f kubeflow/Dockerfile ." >&2; exit 1; }
tfx_version=$(sed -n 's/^tfx==//p' requirements/constraints.txt)
docker build -f kubeflow/Dockerfile --build-arg "TFX_VERSION=$tfx_version" -t "$image" .
if [ "$push" != "--no-push" ]; then
  docker push "$image"
fi
echo "built $image (tfx $tfx_version)"
