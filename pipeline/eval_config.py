"""The model gate: one TFMA EvalConfig used by the pipeline's Evaluator (and the CLI gate)."""

import tensorflow_model_analysis as tfma

from pipeline import config as config_lib
from trainer_module import features

ACCURACY_METRIC = "sparse_categorical_accuracy"
LOSS_METRIC = "sparse_categorical_crossentropy"
COUNT_METRIC = "example_count"


def format_value(value, metric: str = "", signed: bool = False) -> str:
    """How reports print a metric: counts as integers, everything else to 4 decimals."""
    if value is None:
        return "–"
    if metric == COUNT_METRIC:
        return f"{int(round(value)):+d}" if signed else f"{int(round(value))}"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def accuracy_threshold(gate: config_lib.EvalConfig) -> tfma.MetricThreshold:
    """Accuracy >= min_accuracy, and at most max_accuracy_drop below the baseline."""
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": gate.min_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -gate.max_accuracy_drop}))


def build_eval_config(config: config_lib.Config) -> tfma.EvalConfig:
    """Accuracy, loss and confusion matrix, overall and per label, on raw eval examples.

    TFMA feeds raw tf.Examples to ``serving_default`` and gets the class-id label
    from the model's own ``transform_features`` signature.
    """
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=features.SERVING_EXAMPLES_SIGNATURE,
            preprocessing_function_names=[features.TRANSFORM_SIGNATURE],
            label_key=features.LABEL_XF,
            prediction_key=features.SCORES_OUTPUT)],
        slicing_specs=[tfma.SlicingSpec(),
                       tfma.SlicingSpec(feature_keys=[config.data.label_key])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            # Thresholds gate the overall slice only; per-label slices are reported.
            tfma.MetricConfig(class_name="SparseCategoricalAccuracy",
                              per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                                  slicing_specs=[tfma.SlicingSpec()],
                                  threshold=accuracy_threshold(config.eval))]),
            tfma.MetricConfig(class_name="SparseCategoricalCrossentropy"),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ])])
