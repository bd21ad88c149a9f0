# Following: every task of the project runs through this Makefile. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
export PYTHONUNBUFFERED := 1

.PHONY: help setup lock models-group protos lint typecheck test test-fast up down logs status demo models eval \
        bench bench-gateway bench-inference bench-cdn bench-creator bench-e2e bench-profile k8s-check openapi clean chaos \
        clients client-types console chromium bench-discovery

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}'

# Lock files (`make lock` writes them from pyproject.toml): every distribution pinned with its hashes. `make setup` and CI
# install runtime + dev from them; the models group (torch, transformers) only when `make models` must build.
LOCK_DIR := requirements
# Torch's CPU build is not on PyPI: the PyTorch CPU index has it (this machine's wheel folder too, when it has one).
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
TORCH_FIND_LINKS ?= $(or $(wildcard /opt/wheels),$(TORCH_INDEX_URL)/torch/)
UV := .venv/bin/uv
# uv downloads in parallel: the dev group takes about a minute where pip took twenty (measured, no cache).
UV_HASHED := UV_NO_CONFIG=1 $(UV) pip install -q --python $(PY) --require-hashes

# pip installs uv itself from its lock entry (hash checked), then uv installs the rest of the lock file.
$(VENV_STAMP): $(LOCK_DIR)/dev.txt
	@test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	awk '/^uv==/{p=1} p&&/^ *#/{exit} p' $(LOCK_DIR)/dev.txt > .venv/uv-lock.txt
	$(PY) -m pip install -q --require-hashes --no-deps -r .venv/uv-lock.txt
	$(UV_HASHED) -r $(LOCK_DIR)/dev.txt
	UV_NO_CONFIG=1 $(UV) pip install -q --python $(PY) --no-deps -e .
	$(PY) -c "import site, pathlib; p = pathlib.Path(site.getsitepackages()[0]) / 'following_paths.pth'; root = pathlib.Path.cwd(); p.write_text(f'{root}\n{root / \"gen\"}\n')"
	@touch $@

# One resolution of every group for Linux x86_64 / CPython 3.11 (with torch's CPU build) constrains the three files, so
# a package shared by two groups has one version; runtime and dev are then resolved for every platform (--universal).
lock: ## Regenerate requirements/{runtime,dev,models}.txt (hashed) from pyproject.toml with uv
	@test -x $(UV) || $(MAKE) --no-print-directory $(VENV_STAMP)
	@set -euo pipefail; all=$$(mktemp); trap 'rm -f $$all' EXIT; \
	uv() { UV_NO_CONFIG=1 $(UV) pip compile -q --generate-hashes --custom-compile-command "make lock" "$$@"; }; \
	linux="--python-version 3.11 --python-platform x86_64-manylinux_2_31 --find-links $(TORCH_FIND_LINKS)"; \
	uv $$linux pyproject.toml --extra dev --extra models -o $$all; \
	uv --universal pyproject.toml -c $$all -o $(LOCK_DIR)/runtime.txt; \
	uv --universal pyproject.toml --extra dev -c $$all -o $(LOCK_DIR)/dev.txt; \
	uv $$linux pyproject.toml --extra models -c $$all -o $(LOCK_DIR)/models.txt; \
	sed -i "\\|#   -c $$all\$$|d" $(LOCK_DIR)/runtime.txt $(LOCK_DIR)/dev.txt $(LOCK_DIR)/models.txt

setup: $(VENV_STAMP) protos clients ## Create .venv from the lock files (runtime + dev) and generate the gRPC code

# npm ci only when a lock file changed since the last install.
CLIENT_STAMPS := clients/typescript/node_modules/.installed clients/web/node_modules/.installed
clients/%/node_modules/.installed: clients/%/package-lock.json clients/%/package.json
	cd clients/$* && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The viewer /api/docs bundles (static files Envoy serves itself); without node the page stays the plain reference.
VIEWER_STAMP := services/gateway/docs-viewer/node_modules/.installed
$(VIEWER_STAMP): services/gateway/docs-viewer/package-lock.json services/gateway/docs-viewer/package.json
	cd services/gateway/docs-viewer && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

clients: $(CLIENT_STAMPS) $(VIEWER_STAMP) chromium ## Install the npm packages (TypeScript client, web console, docs viewer) and Chromium

chromium: ## Debian's Chromium for the browser tests (as root; otherwise says how)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium (the browser tests need it)"; fi; }

client-types: openapi clients ## Regenerate the TypeScript client's types from the OpenAPI document
	cd clients/typescript && npm run --silent generate

WEB_SOURCES := $(shell find clients/web/src clients/typescript/src -type f 2>/dev/null)
clients/web/dist/index.html: $(WEB_SOURCES) $(CLIENT_STAMPS)
	cd clients/web && npm run --silent build

console: clients/web/dist/index.html ## Build the web console's bundle (served by `make up` on http://localhost:3000)

gen/.stamp: $(VENV_STAMP) $(shell find protos -name '*.proto') scripts/build_protos.sh
	PYTHON=$(PY) bash scripts/build_protos.sh
	@touch $@

protos: gen/.stamp ## Generate Python code, .pyi stubs and the Envoy descriptor set from protos/ into gen/

openapi: protos ## Write the OpenAPI 3.1 document generated from the protos
	$(PY) -m services.gateway.openapi --write

models: $(VENV_STAMP) ## Build the default ONNX models offline (cached by content hash; a miss installs the models group)
	@$(PY) -m services.inference.modelbuild.buildkey || { \
	  echo "installing the models group ($(LOCK_DIR)/models.txt: torch CPU, transformers, optimum) to build the default models"; \
	  $(MAKE) --no-print-directory models-group && $(PY) -m services.inference.modelbuild; }

MODELS_STAMP := .venv/.models-installed
$(MODELS_STAMP): $(VENV_STAMP) $(LOCK_DIR)/models.txt
	$(UV_HASHED) --find-links $(TORCH_FIND_LINKS) -r $(LOCK_DIR)/models.txt
	@touch $@

models-group: $(MODELS_STAMP) ## Install the models group (torch CPU, transformers): the model build and its tests need it

eval: models protos ## Print per-task accuracy and macro-F1 of the loaded models on tests/data, and discovery quality
	$(PY) -m services.inference.evaluate
	$(PY) -m scripts.discovery_eval

lint: setup ## Ruff (lint + import order) and mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(MAKE) --no-print-directory typecheck

typecheck: setup
	.venv/bin/mypy $(wildcard following services scripts tests client bench deploy fakes)

# The suite tests the model build code too, so it needs the models group even when the cache has the build.
test: setup models models-group ## Lint, type check and every test (what CI runs)
	$(MAKE) --no-print-directory lint
	FOLLOWING_REQUIRE_CLIENTS=1 .venv/bin/pytest -q

test-fast: setup models-group ## Tests without lint, stop at the first failure
	.venv/bin/pytest -q -x

# The stack needs no browser: Chromium (tests only) is left to `make setup`/`make test`, which keeps a fresh `make demo` short.
up: $(VENV_STAMP) protos models console $(VIEWER_STAMP) ## Start PostgreSQL, the services, the sample upstream and the gateway under .run/
	$(PY) -m scripts.stack up

down: ## Stop everything `make up` started (data in .run/ survives)
	@test -x $(PY) && $(PY) -m scripts.stack down || true

status: ## Show what the local stack runs
	$(PY) -m scripts.stack status

logs: ## Follow the local stack's logs
	tail -n 50 -F .run/logs/*.log

demo: up ## Run the whole system on its embedded default and search three sample creators
	$(PY) -m scripts.demo

bench-gateway: setup ## Gateway latency and throughput against direct gRPC
	$(PY) -m bench.gateway

bench-inference: models protos ## Inference service against bare onnxruntime
	$(PY) -m bench.inference

bench-cdn: setup ## CDN pipeline against a bare Pillow loop; claim throughput
	$(PY) -m bench.cdn

bench-creator: models protos ## Fresh and cached searches at the creator service, and the refresh scheduler
	$(PY) -m bench.creator

bench-e2e: models protos ## Fresh and cached searches end to end through Envoy
	$(PY) -m bench.e2e

bench-profile: models protos ## Where the CPU of a cached search goes: Envoy, creator (py-spy), PostgreSQL
	$(PY) -m bench.profile

bench-discovery: models protos ## 100k creators on pgvector: HNSW build, recall, similar/discover latency
	$(PY) -m bench.discovery

bench: models protos ## Every benchmark plus end-to-end searches; writes BENCHMARKS.md
	$(PY) -m bench.all

chaos: setup ## PostgreSQL outages under load on a private stack; prints the table RELIABILITY.md records
	$(PY) -m scripts.chaos

k8s-check: setup ## Render every kustomize overlay and validate it offline
	$(PY) -m deploy.checks

clean: down ## Remove generated code and the local stack's data
	rm -rf gen .run clients/*/dist clients/*/dist-test
