# 售后助手 — the two commands a new machine needs: `make run` and `make test`.
# Both create the venv, install from the lock and train when the model is missing or
# older than what it is trained from.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
RASA   := $(VENV)/bin/rasa
MODEL  := models/assistant.tar.gz
# The model depends on everything it is trained from, including the NLU components
# (not the recorded live-room stream in data/liveroom, which is for replays and benches).
MODEL_INPUTS := config.yml domain.yml $(shell find data bot/nlu -type f ! -name '*.pyc' ! -name evaluation.py ! -name shop_tokens.py ! -path '*/__pycache__/*' ! -path 'data/liveroom/*' 2>/dev/null)

export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false

.PHONY: help install lock train run shell services test test-unit validate test-stories test-python bench clean

help:
	@echo "make run    - serve the assistant on http://localhost:5005 (REST channel and the app"
	@echo "              chat page /webhooks/app/chat), the action server on 5055 and the"
	@echo "              agent console on http://localhost:8000"
	@echo "make shell  - chat with the assistant in the terminal"
	@echo "make test   - every test: unit, data validation, test stories, NLU, HTTP"
	@echo "make train  - (re)train models/assistant.tar.gz"
	@echo "make bench  - NLU quality vs a TF-IDF baseline, parse latency, training time;"
	@echo "              live-room triage rate and complaint recall vs the naive path"

install: $(VENV)/.installed

# pyenv selects Python 3.10.13 from .python-version; Rasa 3.6 does not run on 3.11.
$(VENV)/.installed: requirements.lock .python-version
	@command -v python3.10 >/dev/null || { echo "python3.10 not found: install it with pyenv (see .python-version)"; exit 1; }
	test -x $(PY) || python3.10 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.0
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip check
	touch $@

# Re-resolve the direct dependencies and pin the result (needs the registry).
lock:
	rm -rf /tmp/shouhou-lock && python3.10 -m venv /tmp/shouhou-lock
	/tmp/shouhou-lock/bin/pip install --quiet --upgrade pip==24.0
	/tmp/shouhou-lock/bin/pip install --quiet -r requirements.in
	{ echo "# Fully pinned from requirements.in by 'make lock' (Python 3.10). Do not edit by hand."; \
	  /tmp/shouhou-lock/bin/pip freeze --all | grep -v '^pip=='; } > requirements.lock

train: $(MODEL)

$(MODEL): $(VENV)/.installed $(MODEL_INPUTS)
	$(RASA) train --fixed-model-name assistant --out models --force
	touch $@

run: $(MODEL)
	scripts/serve.sh run

shell: $(MODEL)
	scripts/serve.sh shell

test: $(MODEL) validate test-stories test-python

validate: $(VENV)/.installed
	$(RASA) data validate --fail-on-warnings

test-stories: $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/stories --out results/core --fail-on-prediction-errors

# Real PostgreSQL and Redis for the tests (installed from Debian when missing).
services:
	scripts/services.sh >/dev/null

test-python: $(MODEL) services
	$(PY) -m pytest

test-unit: $(VENV)/.installed services
	$(PY) -m pytest tests/unit

bench: $(MODEL)
	$(PY) -m bench.nlu_bench
	$(PY) -m bench.liveroom_bench
	$(PY) -m bench.liveroom_latency

clean:
	rm -rf models results var .pytest_cache
