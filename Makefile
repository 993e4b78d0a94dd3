# Two commands do all set-up on a fresh machine:  `make run`  and  `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
TORCH  ?= torch==2.13.0
CONFIG ?= digits

.PHONY: run test bench clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, from the CPU wheel on this machine's disk; never let a dependency resolve pull a CUDA build.
$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH)"
	touch $@

$(VENV)/.base: pyproject.toml $(VENV)/.torch
	$(PIP) install -e .
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.base
	$(PIP) install -e '.[test]'
	$(PIP) install --no-deps torchattacks==3.5.1
	touch $@

run: $(VENV)/.base
	$(VENV)/bin/robnas run --config $(CONFIG)

# Two workers: the suite is CPU-bound and each test runs on one torch thread (tests/conftest.py).
test: $(VENV)/.test
	$(PY) -m pytest -q -n 2

# Every benchmark prints its figures (ratios against a peer measured in the same run); about an hour on 2 cores.
bench: $(VENV)/.test
	$(PY) perf/attacks.py
	$(PY) perf/autoattack.py
	$(PY) perf/jung_grid.py        # needs: git worktree add /tmp/e005a94 e005a94
	$(PY) perf/certify.py
	$(PY) perf/search_step.py
	$(PY) perf/parallel_eval.py
	$(PY) perf/distributed.py
	$(PY) perf/bench_query.py
	$(PY) perf/bench_build.py
	$(PY) perf/train_step.py
	$(PY) perf/forward_limits.py
	$(PY) perf/bench_cost.py       # needs: git worktree add /tmp/before b1ff98e

clean-venv:
	rm -rf $(VENV)
