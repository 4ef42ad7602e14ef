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

# Debian packages the build or tests need; installed only when missing.
APT_PACKAGES :=
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The real OpenID Connect provider the login tests run (npm oidc-provider, pinned by its lock).
OIDC_PROVIDER := tests/oidc_provider
# npm ci writes node_modules/.package-lock.json, newer than the lock once installed.
OIDC_PROVIDER_STAMP := $(OIDC_PROVIDER)/node_modules/.package-lock.json

.PHONY: help install system-packages test lint fmt run clean clean-data

help: ## List the targets
	@echo "Usage: make <target> [PYTEST_ARGS=...] [RUN_ARGS=...]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

clean: ## Remove caches (keeps .venv and the local run's data)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build htmlcov .coverage
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

clean-data: ## Remove the local run's data folder (databases and secrets)
	rm -rf "$(DATA_DIR)"
