# Every target creates .venv if missing and installs first; a re-run on a complete venv takes seconds.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
OUT     ?= experiments/demo

.PHONY: install build test demo bench wheel clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# PyPI's torch is a CUDA build: the venv takes about 7 GB, so a disk without that room is named before pip starts
# (pip would stop half-way with 'No space left on device').
NEED_MB ?= 7000

$(STAMP): $(BIN)/python pyproject.toml setup.py
	@free=$$(df -Pm $(VENV) | awk 'NR == 2 {print $$4}'); if [ "$$free" -lt $(NEED_MB) ]; then \
	  echo "install: $(VENV) needs about $(NEED_MB) MB free on its disk and $$free MB are; free some space or put the venv on a disk with room (make VENV=/path/.venv)" >&2; exit 1; fi
	$(BIN)/pip install --no-cache-dir torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --no-cache-dir -e ".[dev,tracking,ray,openvino]"
	$(BIN)/pip install --no-deps ofa==0.1.0.post202307202001
	touch $(STAMP)

install: $(STAMP)

# Recompile the Cython kernels in place (after editing csrc/).
build: $(STAMP)
	$(BIN)/python setup.py -q build_ext --inplace

# The whole suite on this host, then the tests whose numerics depend on the CPU's native bf16 under both answers
# (NSGANETV2_NATIVE_BF16 overrides the detection), so an AVX2-only and an AVX-512-bf16 host run the same branches.
test: build
	$(BIN)/python -m pytest -q
	NSGANETV2_NATIVE_BF16=0 $(BIN)/python -m pytest -q -m precision
	NSGANETV2_NATIVE_BF16=1 $(BIN)/python -m pytest -q -m precision

demo: build
	$(BIN)/nsganetv2 demo --save $(OUT)

bench: build
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

# Wheels for a package index: the sdist, and this host's CPython wheel repaired by auditwheel to a manylinux tag, in
# wheelhouse/ (`twine upload wheelhouse/*`). Every Python and platform at once: `cibuildwheel` (see pyproject.toml).
wheel: $(STAMP)
	rm -rf dist wheelhouse
	$(BIN)/python -m build --outdir dist .
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/auditwheel repair --wheel-dir wheelhouse dist/*.whl
	cp dist/*.tar.gz wheelhouse/
	ls wheelhouse

clean:
	rm -rf build dist wheelhouse nsganetv2/*/*.so *.egg-info
