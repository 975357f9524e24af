# The README's commands. `make demo` and `make test` are all a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/pip install --quiet --no-compile --constraint constraints.txt

.PHONY: install dev demo test bench bench-data docker clean

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --editable '.[all]'
	@# Byte-compile once in parallel: imports stay fast even where PYTHONDONTWRITEBYTECODE is set.
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP_INSTALL) --editable '.[all,dev]'
	@touch $@

demo: install
	$(BIN)/jepa-platform pretrain --domain ecg

test: dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/step.py

bench-data: install
	$(BIN)/python benchmarks/data.py

docker:
	docker build -f docker/Dockerfile.cpu -t jepa-platform:cpu .
	docker build -f docker/Dockerfile.cuda -t jepa-platform:cuda .

clean:
	rm -rf $(VENV) runs .pytest_cache
