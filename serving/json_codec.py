"""TF Serving's REST JSON: request bodies to input arrays, output arrays to JSON.

Row format ``{"instances": [...]}`` and columnar ``{"inputs": ...}``; binary
values travel as ``{"b64": "..."}``.  Documented at
tensorflow.org/tfx/serving/api_rest.
"""

import base64
import binascii
import json
from typing import Any, Dict, List, Tuple

import numpy as np

from hubtune.serving.errors import InvalidArgument


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"b64"}:
            if not isinstance(value["b64"], str):
                raise InvalidArgument("'b64' must hold a base64 string")
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError) as e:
                raise InvalidArgument(f"invalid base64 in 'b64' value: {e}") from e
        raise InvalidArgument(f"unexpected object {sorted(value)} where a value was expected")
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def _array(values: Any, name: str) -> np.ndarray:
    try:
        return np.array(values, dtype=object if _has_bytes(values) else None)
    except ValueError as e:
        raise InvalidArgument(f"input '{name}' is not a rectangular array: {e}") from e


def _has_bytes(values: Any) -> bool:
    if isinstance(values, (bytes, str)):
        return True
    if isinstance(values, list) and values:
        return _has_bytes(values[0])
    return False


def parse_predict_body(body: bytes, input_names: List[str]) -> Tuple[Dict[str, np.ndarray], bool]:
    """(inputs by name, row_format) from a :predict body, for a signature's input names."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"JSON Parse error: {e}") from e
    if not isinstance(request, dict):
        raise InvalidArgument("the request body must be a JSON object")
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances == has_inputs:
        raise InvalidArgument("the request must have exactly one of 'instances' (row "
                              "format) or 'inputs' (columnar format)")
    if has_instances:
        instances = request["instances"]
        if not isinstance(instances, list) or not instances:
            raise InvalidArgument("'instances' must be a non-empty list")
        named = all(isinstance(i, dict) and set(i) <= set(input_names) and "b64" not in i
                    for i in instances)
        if named:
            columns = {n: [_decode_value(i[n]) for i in instances if n in i] for n in input_names}
            return {n: _array(v, n) for n, v in columns.items() if v}, True
        if len(input_names) != 1:
            raise InvalidArgument(f"the signature takes inputs {input_names}: name them "
                                  "in each instance")
        return {input_names[0]: _array(_decode_value(instances), input_names[0])}, True
    inputs = request["inputs"]
    if isinstance(inputs, dict) and "b64" not in inputs:
        return {n: _array(_decode_value(v), n) for n, v in inputs.items()}, False
    if len(input_names) != 1:
        raise InvalidArgument(f"the signature takes inputs {input_names}: name them in 'inputs'")
    return {input_names[0]: _array(_decode_value(inputs), input_names[0])}, False


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value] if value.ndim else _jsonable(value.item())
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def predict_response(outputs: Dict[str, np.ndarray], row_format: bool) -> Dict[str, Any]:
    """``{"predictions": [...]}`` (row format) or ``{"outputs": {...}}`` (columnar)."""
    if not row_format:
        if len(outputs) == 1:
            return {"outputs": _jsonable(next(iter(outputs.values())))}
        return {"outputs": {k: _jsonable(v) for k, v in outputs.items()}}
    batch = len(next(iter(outputs.values())))
    if len(outputs) == 1:
        return {"predictions": _jsonable(next(iter(outputs.values())))}
    return {"predictions": [{k: _jsonable(v[i]) for k, v in outputs.items()}
                            for i in range(batch)]}
