"""Each TFLite variant measured against the SavedModel on the same eval pixels: accuracy
and its drop, agreement of class ids, size and latency; and the gate on the drop."""

import dataclasses
import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from hubtune.edge import interpreter, tflite_export

LATENCY_REPEATS = 20


@dataclasses.dataclass
class VariantResult:
    variant: str
    file: str
    size_bytes: int
    accuracy: float
    saved_model_accuracy: float
    agreement: float        # share of images where the variant's class id equals the SavedModel's
    max_score_diff: float
    p50_ms: float

    @property
    def drop(self) -> float:
        return self.saved_model_accuracy - self.accuracy

    def to_dict(self) -> Dict:
        return dict(dataclasses.asdict(self), drop=self.drop)


def measure(variant: str, content: bytes, path: str, reference: np.ndarray,
            pixels: np.ndarray, labels: np.ndarray) -> VariantResult:
    """``reference``: the SavedModel's scores on the same ``pixels``."""
    runner = interpreter.make_interpreter(content, num_threads=2)
    scores = interpreter.classify(runner, pixels)
    ids, reference_ids = scores.argmax(axis=-1), reference.argmax(axis=-1)
    latencies = interpreter.latencies_ms(runner, pixels[0], LATENCY_REPEATS)
    return VariantResult(
        variant=variant, file=os.path.basename(path), size_bytes=len(content),
        accuracy=float(np.mean(ids == labels)),
        saved_model_accuracy=float(np.mean(reference_ids == labels)),
        agreement=float(np.mean(ids == reference_ids)),
        max_score_diff=float(np.abs(scores - reference).max()),
        p50_ms=float(np.median(latencies)))


def export_and_measure(model: tflite_export.HubtuneModel, variants: List[str], out_dir: str,
                       eval_pixels: np.ndarray, eval_labels: np.ndarray,
                       calibration: Optional[np.ndarray],
                       float_layers: int = tflite_export.DEFAULT_INT8_FLOAT_LAYERS
                       ) -> List[VariantResult]:
    """Converts each variant into ``out_dir/<variant>.tflite`` (plus labels.txt) and measures it."""
    if len(eval_pixels) == 0:
        raise tflite_export.EdgeExportError("no eval images to measure the TFLite variants on")
    tf.io.gfile.makedirs(out_dir)
    tflite_export.write_labels(out_dir, model.class_names)
    reference = model.scores(eval_pixels)
    results = []
    for variant in variants:
        content = tflite_export.convert(model, variant, calibration, float_layers)
        path = os.path.join(out_dir, f"{variant}.tflite")
        with tf.io.gfile.GFile(path, "wb") as f:
            f.write(content)
        results.append(measure(variant, content, path, reference, eval_pixels, eval_labels))
    return results


def drop_problems(results: List[VariantResult], max_drop: float) -> List[str]:
    """One line per variant that loses more accuracy than ``max_drop`` (absolute)."""
    return [f"TFLite variant {r.variant} loses {r.drop:.4f} accuracy ({r.accuracy:.4f} vs the "
            f"SavedModel's {r.saved_model_accuracy:.4f} on the same eval images), more than "
            f"tflite.max_accuracy_drop {max_drop:.4f}"
            for r in results if r.drop > max_drop]
