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
	@# open3d (LiDAR PCD/PLY) loads libusb-1.0: installed only as root, with apt-get, when it is missing.
	@if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null && ! ldconfig -p | grep -q 'libusb-1.0.so.0'; then \
		{ apt-get install -y -q libusb-1.0-0 || { apt-get update -q && apt-get install -y -q libusb-1.0-0; }; } > /dev/null 2>&1 \
			|| echo "could not install libusb-1.0-0: PCD/PLY scans need it"; \
	fi
	$(PIP_INSTALL) --editable '.[all]'
	@# Byte-compile once in parallel: imports stay fast even where PYTHONDONTWRITEBYTECODE is set.
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP_INSTALL) --editable '.[all,dev]'
	@touch $@

demo: install
	$(BIN)/jepa-platform pretrain --domain ecg

# One pytest worker per CPU core (pytest-xdist); a long test never holds up the other worker's queue.
test: dev
	$(BIN)/python -m pytest -n auto --dist worksteal $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/step.py

bench-data: install
	$(BIN)/python benchmarks/data.py

docker:
	docker build -f docker/Dockerfile.cpu -t jepa-platform:cpu .
	docker build -f docker/Dockerfile.cuda -t jepa-platform:cuda .

clean:
	rm -rf $(VENV) runs .pytest_cache
