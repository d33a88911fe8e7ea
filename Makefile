# The two set-up commands (see README.md): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one by default until two have run the whole
# suite green from a fresh clone (two took 605-615 s here, one 809 s); `make test
# PYTEST_WORKERS=2` runs it in two, each on services of its own (tests/parallel.py).
PYTEST_WORKERS ?= 0

.PHONY: run test install worker beat cluster-check bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	@echo "Orgdesk admin: http://127.0.0.1:8000/admin/"
	$(PY) manage.py runserver 127.0.0.1:8000

test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

worker: install
	$(VENV)/bin/celery -A config worker --loglevel INFO -Q $${CELERY_QUEUE:-orgdesk}

beat: install
	$(VENV)/bin/celery -A config beat --loglevel INFO

# Two gunicorn nodes, a worker and beat on one PostgreSQL and one Redis, and
# the properties a multi-node deployment needs, proved over HTTP (see the script).
cluster-check: install
	$(PY) tests/cluster/cluster_check.py

bench: install
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) var
