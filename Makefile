# Delinkcious developer entry points. `make` alone lists them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINT_PATHS := pkg services tests
PYTEST_ARGS ?=
RUN_ARGS ?=
DATA_DIR := $(or $(DELINKCIOUS_DATA_DIR),$(CURDIR)/.data)

# uv pinned to the version that wrote uv.lock, used only when none is on PATH.
# It goes to a per-user cache outside the repository, so no clone or `clean` loses it.
UV_VERSION := 0.13.9
UV_HOME := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/delinkcious/uv-$(UV_VERSION)
UV := $(or $(shell command -v uv 2>/dev/null),$(UV_HOME)/bin/uv)

# Debian packages the build or tests need; installed only when missing (chromium: the web tests' browser).
APT_PACKAGES := chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The real OpenID Connect provider the login tests run (npm oidc-provider, pinned by its lock).
OIDC_PROVIDER := tests/oidc_provider
# npm ci writes node_modules/.package-lock.json, newer than the lock once installed.
OIDC_PROVIDER_STAMP := $(OIDC_PROVIDER)/node_modules/.package-lock.json

.PHONY: help install system-packages test lint fmt run k8s bench clean clean-data

help: ## List the targets
	@echo "Usage: make <target> [PYTEST_ARGS=...] [RUN_ARGS=...]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## Install what is missing (uv, the locked Python dependencies into .venv)

# Checked on every run (cheap); does nothing while APT_PACKAGES is empty or all present.
system-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(UV_HOME)/bin/uv:
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
	  --target "$(UV_HOME)" uv==$(UV_VERSION)

# The stamp is newer than pyproject.toml and uv.lock once they are installed, so
# a repeated `make install` does nothing.
$(STAMP): pyproject.toml uv.lock $(if $(filter $(UV_HOME)/%,$(UV)),$(UV)) | system-packages
	"$(UV)" sync --frozen
	@touch $@

$(OIDC_PROVIDER_STAMP): $(OIDC_PROVIDER)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: the login tests need Node.js 18+ with npm"; exit 1; }
	cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error

test: install $(OIDC_PROVIDER_STAMP) ## Run every test (real Postgres: DELINKCIOUS_TEST_POSTGRES_URL or a throwaway one)
	$(PY) -m pytest $(PYTEST_ARGS)

# All three checks run, so one report shows every problem; any failure fails the target.
lint: install ## Check style, formatting and types (ruff, mypy)
	@status=0; \
	$(VENV)/bin/ruff check $(LINT_PATHS) || status=1; \
	$(VENV)/bin/ruff format --check $(LINT_PATHS) || status=1; \
	$(VENV)/bin/mypy $(LINT_PATHS) || status=1; \
	exit $$status

fmt: install ## Format the code and apply safe lint fixes
	$(VENV)/bin/ruff format $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

run: install ## Start the whole system locally (data in .data/; Ctrl-C stops it)
	$(PY) -m delinkcious.localrun $(RUN_ARGS)

k8s: install ## Render k8s/ from the Helm chart (commit the result; a test checks they match)
	$(PY) -m tests.deploy.render_k8s

BENCH_ARGS ?=
bench: install ## Benchmark the local run on SQLite and Postgres against its goals into docs/benchmarks.md (BENCH_ARGS=--seconds 2 for a quick run)
	@command -v wrk >/dev/null || $(MAKE) --no-print-directory system-packages APT_PACKAGES=wrk
	$(PY) -m scripts.bench --out docs/benchmarks.md $(BENCH_ARGS)

clean: ## Remove caches (keeps .venv and the local run's data)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build htmlcov .coverage
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

clean-data: ## Remove the local run's data folder (databases and secrets)
	rm -rf "$(DATA_DIR)"

# --- Kubernetes: images, Minikube, Argo CD (docs/deploying.md) -----------------------
# `make deploy` settings; DEPLOY_TAG defaults to the commit (plus a timestamp when the
# work tree has changes, so each deploy of uncommitted code rolls the pods).
DEPLOY_NAMESPACE ?= delinkcious
DEPLOY_TAG ?=
DEPLOY_HELM_ARGS ?=

.PHONY: images test-images deploy argocd-bootstrap

images: ## Build one image per service: docker, or buildah without an engine (CONTAINER_TOOL, REGISTRY, TAG, PUSH=1, DRY_RUN=1)
	scripts/build-images.sh

# Root only: debootstrap for the stand-in base, podman and buildah on vfs storage.
IMAGE_TEST_PACKAGES := buildah podman runc debootstrap
test-images: install ## Build every image and run it as the chart does, then the end-to-end tests on them (root; RECORD=1)
	@[ "$$(id -u)" = 0 ] || { echo "make test-images needs root (docs/deploying.md)"; exit 1; }
	@$(MAKE) --no-print-directory system-packages APT_PACKAGES="$(IMAGE_TEST_PACKAGES)"
	scripts/test-images.sh

deploy: ## Build the images into Minikube, helm upgrade --install, wait, print the gateway URL
	@for tool in minikube helm kubectl docker; do \
	  command -v $$tool >/dev/null 2>&1 || { echo "make deploy needs '$$tool' on PATH (docs/deploying.md)"; exit 1; }; \
	done
	@minikube status >/dev/null 2>&1 || { echo "Minikube is not running: start it with 'minikube start' (docs/deploying.md)"; exit 1; }
	@tag="$(DEPLOY_TAG)"; \
	if [ -z "$$tag" ]; then \
	  tag="$$(git rev-parse --short=7 HEAD)"; \
	  git diff --quiet HEAD -- || tag="$$tag-dev$$(date +%s)"; \
	fi; \
	echo "deploy: building images $$tag inside Minikube"; \
	eval "$$(minikube docker-env)"; \
	TAG="$$tag" scripts/build-images.sh; \
	echo "deploy: installing helm/delinkcious into namespace $(DEPLOY_NAMESPACE)"; \
	helm upgrade --install delinkcious helm/delinkcious --namespace $(DEPLOY_NAMESPACE) --create-namespace \
	  --set global.image.tag="$$tag" --set global.image.pullPolicy=IfNotPresent \
	  --wait --timeout 10m $(DEPLOY_HELM_ARGS); \
	for d in $$(kubectl -n $(DEPLOY_NAMESPACE) get deployments -o name); do \
	  kubectl -n $(DEPLOY_NAMESPACE) rollout status "$$d" --timeout 5m; \
	done; \
	type="$$(kubectl -n $(DEPLOY_NAMESPACE) get service api-gateway -o jsonpath='{.spec.type}')"; \
	echo; \
	if [ "$$type" = NodePort ] || [ "$$type" = LoadBalancer ]; then \
	  port="$$(kubectl -n $(DEPLOY_NAMESPACE) get service api-gateway -o jsonpath='{.spec.ports[0].nodePort}')"; \
	  echo "Gateway: http://$$(minikube ip):$$port  (or: minikube service api-gateway -n $(DEPLOY_NAMESPACE) --url)"; \
	else \
	  echo "Gateway: run  kubectl -n $(DEPLOY_NAMESPACE) port-forward service/api-gateway 5000:5000"; \
	  echo "         then http://127.0.0.1:5000  (curl -s http://127.0.0.1:5000/healthz)"; \
	fi

argocd-bootstrap: ## Hand Delinkcious to the cluster's Argo CD (AppProject and root Application)
	@command -v kubectl >/dev/null 2>&1 || { echo "make argocd-bootstrap needs 'kubectl' on PATH (docs/deploying.md)"; exit 1; }
	@kubectl get crd applications.argoproj.io >/dev/null 2>&1 || { echo "Argo CD is not installed in this cluster: install it first (docs/deploying.md)"; exit 1; }
	kubectl apply -n argocd -f argocd/project.yaml
	kubectl apply -n argocd -f argocd/root.yaml
