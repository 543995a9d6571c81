# One place for the commands people, hooks and CI share. `make help` lists them.
.DEFAULT_GOAL := help
PY := .venv/bin/python

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

setup: ## install system packages, the virtualenv and the Kafka jars (idempotent)
	@bash scripts/bootstrap.sh

demo: setup ## run the whole service on embedded defaults (Ctrl-C stops it)
	$(PY) -m streams demo

test: setup ## lint, then the whole test suite against the real Kafka and Redis
	$(PY) -m ruff check .
	$(PY) -m pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=15

lint: setup ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: setup ## all benchmarks side by side in one table (not in CI; minutes, noisy on 2 cores)
	@$(PY) -c "import celery, quixstreams" 2>/dev/null || $(PY) -m pip install -q -e ".[dev,bench]"
	@test -x /usr/lib/rabbitmq/bin/rabbitmq-server || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server)
	$(PY) -m bench

chaos: setup ## the season through a clean run and a run under faults; the ledger compares them (minutes)
	$(PY) -m bench.chaos

config-doc: ## write docs/configuration.md from streams/settings.py (a unit test checks it)
	$(PY) -m devstack.settings_doc

stack-up: setup ## start the local Kafka and Redis
	$(PY) -m streams stack up

stack-down: ## stop the local Kafka and Redis
	$(PY) -m streams stack down

.PHONY: help setup demo test lint bench chaos config-doc stack-up stack-down
