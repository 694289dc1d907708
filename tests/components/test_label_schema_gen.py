"""LabelSchemaGen: the label domain pinned to the training values."""

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from hubtune.components import label_schema_gen


def test_int_label_domain_is_pinned_to_training_range():
    schema = schema_pb2.Schema()
    schema.feature.add(name="image_class", type=schema_pb2.INT)
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    feature = stats.datasets.add().features.add()
    feature.path.step.append("image_class")
    feature.num_stats.min, feature.num_stats.max = 0, 9
    assert label_schema_gen.pin_int_label_domain(schema, stats, "image_class")
    domain = schema.feature[0].int_domain
    assert (domain.min, domain.max, domain.is_categorical) == (0, 9, True)


def test_string_labels_keep_tfdv_domain():
    schema = schema_pb2.Schema()
    schema.feature.add(name="label", type=schema_pb2.BYTES)
    assert not label_schema_gen.pin_int_label_domain(
        schema, statistics_pb2.DatasetFeatureStatisticsList(), "label")
