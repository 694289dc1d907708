"""Running a .tflite file: TF's ``tf.lite.Interpreter`` or LiteRT's (``ai-edge-litert``)."""

import time
from typing import List

import numpy as np

RUNTIMES = ("tf", "litert")


def make_interpreter(model_content: bytes, num_threads: int = 2, runtime: str = "tf"):
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter
    else:
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def classify(interpreter, pixels: np.ndarray) -> np.ndarray:
    """Scores [n, classes] for uint8 pixels [n, size, size, 3], one image per invoke."""
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    rows = []
    for image in pixels:
        interpreter.set_tensor(inp["index"], image[np.newaxis].astype(inp["dtype"]))
        interpreter.invoke()
        rows.append(np.array(interpreter.get_tensor(out["index"])[0], dtype=np.float32))
    return np.stack(rows) if rows else np.zeros([0, 0], np.float32)


def latencies_ms(interpreter, image: np.ndarray, repeats: int, warmup: int = 5) -> List[float]:
    """Single-image invoke latencies in milliseconds."""
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], image[np.newaxis].astype(inp["dtype"]))
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000)
    return times
