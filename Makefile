# Bian Que: make venv | demo | test | lint | e2e | clean | distclean
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint e2e system-deps clean distclean

venv: $(STAMP)

# Reinstall only when pyproject.toml or the pinned versions changed since the last install.
# constraints.txt pins every package to the version the tests passed with.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/bianque demo

system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
		scripts/install-system-deps.sh; \
	else \
		scripts/install-system-deps.sh --check \
			|| echo "not root: skipping system package installs; e2e tests needing them will skip"; \
	fi

test: venv system-deps
	$(BIN)/pytest -q
	$(BIN)/ruff check .

lint: venv
	$(BIN)/ruff check .

e2e: venv system-deps
	$(BIN)/pytest -q -m e2e

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info .e2e
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
