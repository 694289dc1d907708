"""TF Serving config messages that tensorflow-serving-api does not ship.

``MonitoringConfig`` (tensorflow_serving/config/monitoring_config.proto) and
``BatchingParameters`` (tensorflow_serving/servables/tensorflow/
session_bundle_config.proto), transcribed field for field, so the generated
``monitoring.config`` and ``batching_parameters.txt`` are checked against TF
Serving's own schema.  ``ModelServerConfig`` comes from the package itself.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(
        name="hubtune/tf_serving_config.proto", package="tensorflow.serving", syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"])
    prometheus = f.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=_F.TYPE_BOOL, label=_F.LABEL_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    monitoring = f.message_type.add(name="MonitoringConfig")
    monitoring.field.add(name="prometheus_config", number=1, type=_F.TYPE_MESSAGE,
                         label=_F.LABEL_OPTIONAL, type_name=".tensorflow.serving.PrometheusConfig")
    batching = f.message_type.add(name="BatchingParameters")
    for name, number, wrapper in (("max_batch_size", 1, "Int64Value"),
                                  ("batch_timeout_micros", 2, "Int64Value"),
                                  ("max_enqueued_batches", 3, "Int64Value"),
                                  ("num_batch_threads", 4, "Int64Value"),
                                  ("thread_pool_name", 5, "StringValue")):
        batching.field.add(name=name, number=number, type=_F.TYPE_MESSAGE,
                           label=_F.LABEL_OPTIONAL, type_name=f".google.protobuf.{wrapper}")
    batching.field.add(name="allowed_batch_sizes", number=6, type=_F.TYPE_INT64,
                       label=_F.LABEL_REPEATED)
    batching.field.add(name="pad_variable_length_inputs", number=7, type=_F.TYPE_BOOL,
                       label=_F.LABEL_OPTIONAL)
    return f


_POOL = descriptor_pool.DescriptorPool()
_POOL.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
_POOL.Add(_file())
_FACTORY = message_factory.MessageFactory(_POOL)
MonitoringConfig = _FACTORY.GetPrototype(_POOL.FindMessageTypeByName(
    "tensorflow.serving.MonitoringConfig"))
BatchingParameters = _FACTORY.GetPrototype(_POOL.FindMessageTypeByName(
    "tensorflow.serving.BatchingParameters"))
