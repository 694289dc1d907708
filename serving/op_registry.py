"""Which op types a SavedModel needs that stock TF Serving may not register.

TF Serving registers core TensorFlow's ops plus the few custom ops its images embed
(TF Text 2.12's, for instance).  A model that uses any other op exports fine and then
fails to load there with "Op type not registered".  This walks every op type in the
SavedModel (each meta graph and every function in its library) and checks it against
core TF's op registry in a fresh interpreter that imports nothing but TensorFlow, so
ops that TFX, TF Text or other libraries register in this process do not count.
"""

import json
import os
import subprocess
import sys
from typing import Iterable, List, Set

from tensorflow.core.protobuf import saved_model_pb2

_CORE_CHECK = ("import json, sys\n"
               "import tensorflow\n"
               "from tensorflow.python.framework import op_def_registry\n"
               "ops = json.load(sys.stdin)\n"
               "print(json.dumps([op for op in ops if op_def_registry.get(op) is None]))\n")


def saved_model_op_types(model_dir: str) -> Set[str]:
    """Every op type in the SavedModel's graphs and their function libraries."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def not_in_core_tf(op_types: Iterable[str]) -> List[str]:
    """The op types core TensorFlow does not register (checked in a fresh interpreter)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", _CORE_CHECK], input=json.dumps(sorted(op_types)),
                          capture_output=True, text=True, timeout=300, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def unservable_ops(model_dir: str, allowed: Iterable[str] = ()) -> List[str]:
    """Op types outside core TF and not on the ``allowed`` list, sorted."""
    return sorted(set(not_in_core_tf(saved_model_op_types(model_dir))) - set(allowed))
