# The judging engine: Python environment, toolchains, S3 server, tests and benchmark.

VENV_STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

$(VENV_STAMP): pyproject.toml
	@echo "[venv] creating $(VENV) and installing gavel with its test and operator extras…"
	@rm -rf $(VENV) && $(PY) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --upgrade pip >$(VENV)/install.log 2>&1
	@$(VENV)/bin/pip install -q -e '.[operator,client,test]' >>$(VENV)/install.log 2>&1 || \
		{ tail -30 $(VENV)/install.log; exit 1; }
	@touch $@

.PHONY: venv toolchains s3-server deps schema test test-unit test-runner bench-runner judge-demo

venv: $(VENV_STAMP) ## Python virtualenv (.venv) with gavel installed

toolchains: ## install the Debian toolchains the default languages use (apt)
	@scripts/install-toolchains.sh

s3-server: ## build the MinIO test server into $(GAVEL_CACHE) (cold: ~5 min)
	@scripts/minio.sh >/dev/null

deps: venv toolchains s3-server ## everything the runner tests need

schema: venv ## regenerate contract/schema/*.json from the models
	@$(VENV)/bin/python -m gavel_contract.schema contract/schema

test-unit: venv ## unit tests (pure logic)
	@$(VENV)/bin/pytest -q tests/unit

test-runner: deps ## runner tests: real sandbox, real compilers, real S3 server
	@echo "[test] runner: 25 languages, every verdict, hostile programs, S3 (~10 min)"
	@$(VENV)/bin/pytest -q --durations=8 tests/unit tests/integration

bench-runner: deps ## benchmark: judge 1,000 tests vs a bare loop; CPU and memory accuracy; hello world in every installed language (BENCH_HELLO=c,java or none)
	@$(VENV)/bin/python bench/bench_runner.py

judge-demo: deps ## check the example problems locally (`gavel problem check`: every reference solution gets its expected verdict and score)
	@scripts/judge-demo.sh

.PHONY: crds
crds: venv ## regenerate crds/*.yaml from the operator's typed models
	@$(VENV)/bin/python -m gavel_operator.crdgen crds
	@cp crds/*.yaml charts/gavel/crds/ && cp languages/*.yaml charts/gavel/files/languages/
	@echo "copied crds/ and languages/ into charts/gavel"
