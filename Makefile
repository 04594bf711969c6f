# pro-pipeline — one-command set-up, demo, tests and lint.
#
#   make demo    create .venv, install everything, run the embedded default on this machine
#   make test    create .venv if needed, install, run the whole test suite
#   make lint    ruff, mypy (strict on the pure core) and the import-layer contracts
#
# Torch: the install never lets pip choose torch.  It installs $(TORCH_SPEC) first
# (default torch==2.13.0, the CPU wheel), then constrains everything else to the torch
# that is installed.  On a GPU machine keep your own CUDA torch with TORCH_SPEC= :
#   python3 -m venv .venv && .venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cu124
#   make test TORCH_SPEC=
SHELL        := /bin/bash
.SHELLFLAGS  := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
PYTEST_ARGS ?=
# pytest-xdist workers, each with its own servers; 0: one process.  --dist loadscope: a module with a
# module-scoped fixture runs on one worker, other tests on any (tests/conftest.py)
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope)
DEMO_DIR    ?= demo-output

BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
# pip prints a warning per package for the machine's unused local index folders.
PIPQ        := 2>&1 | { grep -v 'is neither a file nor a directory' || true; }

.PHONY: help venv demo demo-schedule test test-unit test-ml test-integration lint slim-check images image-check lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip $(PIPQ)

# Re-installs only when the dependency declarations change.
$(STAMP): $(BIN)/python pyproject.toml requirements/lock.txt
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/pip install -q "$(TORCH_SPEC)" $(PIPQ); fi
	@$(BIN)/python -c "from importlib.metadata import version as v; print('torch==' + v('torch').split('+')[0])" \
	  > $(VENV)/constraints.txt 2>/dev/null \
	  || { echo "no torch in $(VENV): install one, or leave TORCH_SPEC at its default" >&2; exit 1; }
	grep -v '^torch==' requirements/lock.txt >> $(VENV)/constraints.txt
	$(BIN)/pip install -q -c $(VENV)/constraints.txt -e '.[test]' $(PIPQ)
	@touch $@

venv: $(STAMP)  ## create .venv and install everything (idempotent)

demo: $(STAMP)  ## run the embedded default on this machine
	$(BIN)/pro demo --out $(DEMO_DIR)

SCHEDULE_DIR ?= demo-schedule
demo-schedule: $(STAMP)  ## two weekly firings of examples/toy/schedule.yaml on this machine: reuse, gate, drift
	rm -rf $(SCHEDULE_DIR) && mkdir -p $(SCHEDULE_DIR) && cp examples/toy/world.yaml examples/toy/schedule.yaml $(SCHEDULE_DIR)/
	cd $(SCHEDULE_DIR) && ../$(BIN)/pro toy generate --spec world.yaml --out toy-out
	cd $(SCHEDULE_DIR) && ../$(BIN)/pro toy drops --world toy-out --out toy-out/drops --change humor --date 2026-11-30 --date 2026-12-07
	cd $(SCHEDULE_DIR) && time ../$(BIN)/pro run -f schedule.yaml --scheduled-time 2026-11-30T03:00:00Z --progress lines
	cd $(SCHEDULE_DIR) && time ../$(BIN)/pro run -f schedule.yaml --scheduled-time 2026-12-07T03:00:00Z --progress lines
	cd $(SCHEDULE_DIR) && ../$(BIN)/pro drift -f schedule.yaml --report drift.html && ../$(BIN)/pro promoted -f schedule.yaml

test: $(STAMP)  ## run the whole test suite (unit, ml, integration)
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

test-unit: $(STAMP)  ## only the unit tier
	$(BIN)/pytest -m unit $(XDIST) $(PYTEST_ARGS)

test-ml: $(STAMP)  ## only the ml tier
	$(BIN)/pytest -m ml $(XDIST) $(PYTEST_ARGS)

test-integration: $(STAMP)  ## only the integration tier
	$(BIN)/pytest -m integration $(XDIST) $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, mypy and the import-layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# A torch-free environment with only the operator's requirement set, proving that
# the operator image needs no ML stack.
slim-check:  ## install the operator alone (no torch) into .venv-slim and import it
	@[ -x .venv-slim/bin/python ] || $(PYTHON) -m venv .venv-slim
	.venv-slim/bin/pip install -q -c requirements/lock.txt -r requirements/operator.txt $(PIPQ)
	.venv-slim/bin/pip install -q --no-deps --force-reinstall . $(PIPQ)
	.venv-slim/bin/python -c "import importlib.util as u, pro_operator.handlers; assert u.find_spec('torch') is None and u.find_spec('kubernetes') is None; print('pro_operator', pro_operator.__version__, 'imports without torch or the kubernetes package')"

# The two images built from their unchanged Dockerfiles with buildah (no Docker engine), on bases made with
# debootstrap and cached in ~/.cache/pro-images; needs root (docs/images.md).
images: $(STAMP)  ## build the operator and trainer images with buildah (root; bases cached)
	$(BIN)/python -m pro.testing.images build

image-check: images  ## build the images, then run them as their pods would (tests/images/test_built_images.py)
	PRO_IMAGE_CHECK=1 $(BIN)/pytest tests/images/test_built_images.py $(PYTEST_ARGS)

lock:  ## regenerate requirements/lock.txt from .venv (after changing dependencies)
	$(BIN)/pip freeze --exclude-editable | grep -vE '^(torch|pro-pipeline)==' > requirements/lock.txt

clean:  ## remove virtual environments, caches and outputs
	rm -rf $(VENV) .venv-slim .pytest_cache .mypy_cache .ruff_cache $(DEMO_DIR) build *.egg-info

.PHONY: crds
crds: $(STAMP)  ## regenerate the CRDs in manifests/crds from the spec models
	$(BIN)/python -m pro.render.crds
	cp manifests/crds/pro.alignment.dev_*.yaml helm/pro-pipeline/crds/
