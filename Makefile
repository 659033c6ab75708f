# Every target does its own set-up on a fresh machine; re-running is quick once .venv exists.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.nclab-installed
# Tests and small models run single-threaded (2-core machines slow down 2-3x with oversubscription).
export OMP_NUM_THREADS ?= 1

.PHONY: setup data test demo lint bench verify reproduce clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

# Fashion-MNIST from Debian (IDX files under /usr/share/datasets/fashion-mnist); optional: tests
# that need it are skipped with a message when it is absent.
FMNIST_DIR := /usr/share/datasets/fashion-mnist
data:
	@if [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } || \
	  echo "note: could not install dataset-fashion-mnist with apt-get; Fashion-MNIST tests will be skipped"; \
	else echo "note: Fashion-MNIST missing: run 'sudo apt-get install -y dataset-fashion-mnist' or pass --data-dir DIR with the IDX files"; fi

test: $(STAMP) data
	$(PY) -m pytest -q

demo: $(STAMP) data
	$(PY) -m nclab.demo

# every claim that is meaningful at the smoke scale (what CI runs after the tests)
verify: $(STAMP)
	$(VENV)/bin/nclab verify --scale smoke --quiet --out $${NCLAB_RUNS:-runs}

# the cpu-scale reproduction (51-55 CPU-min of training, 27-29 min with 2 jobs on a 2-core
# AVX-512 Xeon; 131-190 CPU-min, 69-100 min on a 2-core 2 GHz AVX2 EPYC; measured 2026-12-02/03
# from empty stores, see the README's "Reproduction status"); rewrites the README's status table
reproduce: $(STAMP) data
	$(VENV)/bin/nclab verify --scale cpu --jobs 2 --quiet --out $${NCLAB_RUNS:-runs} --readme README.md

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

bench: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) benchmarks/bench_metrics.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_sweep.py --threads 1

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
