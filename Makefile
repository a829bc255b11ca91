# Set-up and the two everyday jobs. `make demo` and `make test` create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned to the CPU build: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gankit train dcgan-mnist --minutes 5 --seed 0

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs

.PHONY: install demo test clean
