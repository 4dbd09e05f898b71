# The two commands of the README: `make run` and `make test`. Each builds .venv as needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Listening on every interface (HOST=0.0.0.0) is for being reached from elsewhere: the
# server then answers to any host name, and links name this machine's first address.
ifneq ($(filter 0.0.0.0 :: [::],$(HOST)),)
LINK_HOST ?= $(or $(firstword $(shell hostname -I 2>/dev/null)),$(shell hostname))
RUN_ALLOWED_HOSTS ?= *
else
LINK_HOST ?= $(HOST)
RUN_ALLOWED_HOSTS ?= localhost,127.0.0.1,[::1],$(HOST)
endif
# Links in e-mails point at the server `make run` starts, unless SITE_URL says otherwise.
SITE_URL ?= http://$(LINK_HOST):$(PORT)

.PHONY: run test lint messages screenshots bench lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs the pinned set of the lock files; `make lock` resolves them again from pyproject.toml.
$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $@

$(VENV)/.installed-test: requirements-test.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-test.lock
	touch $(VENV)/.installed $@

lock: $(VENV)/.installed-test
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --extra test -o requirements-test.lock pyproject.toml

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Back office: http://$(LINK_HOST):$(PORT)/   (log in as admin / demo-admin)"
	@echo "  E-mails:     var/mail/, one .eml file each (links to $(SITE_URL))"
	@echo "  Web server, Celery worker and beat start below; Ctrl-C stops all three."
	@echo ""
	@# Ctrl-C is how this ends: honcho stops all three and exits 130, which is no error here.
	@WEB_ADDR=$(HOST):$(PORT) SITE_URL=$(SITE_URL) \
		ALLOWED_HOSTS="$${ALLOWED_HOSTS:-$(RUN_ALLOWED_HOSTS)}" $(BIN)/honcho -f Procfile.dev start \
		|| [ $$? -eq 130 ]

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

screenshots: $(VENV)/.installed-test
	SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest tests/browser -q

# `make bench SECTION=pages` runs one section; ARGS=--small a quick run of every one.
bench: $(VENV)/.installed-test
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench} \
		$(BIN)/python -m bench $(if $(SECTION),--section $(SECTION)) $(ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages -l fr --ignore=.venv --ignore=staticfiles --no-location
	$(BIN)/python manage.py compilemessages --ignore=.venv
