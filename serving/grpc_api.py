"""TF Serving's gRPC API (the subset hubtune uses) over a ModelStore.

PredictionService.Predict, PredictionService.GetModelMetadata and
ModelService.GetModelStatus, with the stubs from tensorflow-serving-api.
Bad requests get INVALID_ARGUMENT, unknown models or versions NOT_FOUND.
"""

from concurrent import futures
from typing import Optional

import grpc
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from hubtune.serving.errors import InvalidArgument, ServingRequestError
from hubtune.serving.model_store import ModelStore

SIGNATURE_DEF_FIELD = "signature_def"
GRPC_WORKERS = 8


def _version(model_spec) -> Optional[int]:
    return model_spec.version.value if model_spec.HasField("version") else None


def _abort(context, error: ServingRequestError):
    context.abort(getattr(grpc.StatusCode, error.grpc_code), str(error))


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store: ModelStore, max_request_bytes: int):
        self.store, self.max_request_bytes = store, max_request_bytes

    def Predict(self, request, context):
        try:
            if request.ByteSize() > self.max_request_bytes:
                raise InvalidArgument(f"request of {request.ByteSize()} bytes exceeds the "
                                      f"limit of {self.max_request_bytes} bytes")
            loaded = self.store.get(request.model_spec.name, _version(request.model_spec))
            signature = request.model_spec.signature_name or "serving_default"
            try:
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            except (TypeError, ValueError) as e:
                raise InvalidArgument(f"malformed input tensor: {e}") from e
            outputs = loaded.predict(signature, inputs)
        except ServingRequestError as e:
            return _abort(context, e)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.signature_name = signature
        response.model_spec.version.value = loaded.version
        for key, value in outputs.items():
            if not request.output_filter or key in request.output_filter:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):
        try:
            fields = set(request.metadata_field)
            if fields - {SIGNATURE_DEF_FIELD}:
                raise InvalidArgument(f"metadata_field must be ['{SIGNATURE_DEF_FIELD}']")
            loaded = self.store.get(request.model_spec.name, _version(request.model_spec))
        except ServingRequestError as e:
            return _abort(context, e)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in loaded.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        packed = any_pb2.Any()
        packed.Pack(signature_map)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = loaded.version
        response.metadata[SIGNATURE_DEF_FIELD].CopyFrom(packed)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, store: ModelStore):
        self.store = store

    def GetModelStatus(self, request, context):
        try:
            statuses = self.store.status(request.model_spec.name, _version(request.model_spec))
        except ServingRequestError as e:
            return _abort(context, e)
        response = get_model_status_pb2.GetModelStatusResponse()
        for s in statuses:
            status = response.model_version_status.add(
                version=s["version"],
                state=get_model_status_pb2.ModelVersionStatus.State.Value(s["state"]))
            status.status.error_code = (error_codes_pb2.UNKNOWN if s["error"]
                                        else error_codes_pb2.OK)
            status.status.error_message = s["error"]
        return response


class GrpcServer:
    def __init__(self, store: ModelStore, host: str, port: int, max_request_bytes: int):
        # gRPC's own limit is set above ours so oversized requests get our INVALID_ARGUMENT.
        limit = 2 * max_request_bytes + 1024 * 1024
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS),
                                  options=[("grpc.max_receive_message_length", limit),
                                           ("grpc.max_send_message_length", limit)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(store, max_request_bytes), self.server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(store), self.server)
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot bind gRPC to {host}:{port}")

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=2).wait()
