#!/usr/bin/env bash
# Installs Synapse (the reference Matrix homeserver) from PyPI into a private virtualenv, for the
# Matrix adapter's end-to-end test (crates/hearth-channels/tests/matrix.rs). Idempotent: does
# nothing when the venv already imports synapse.
set -euo pipefail

cache="${HEARTH_TEST_CACHE:-$HOME/.cache/hearth-test}"
venv="$cache/synapse-venv"
python="${PYTHON:-python3}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import synapse.app.homeserver' 2>/dev/null; then
    echo "synapse already installed in $venv"
    exit 0
fi

mkdir -p "$cache"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet 'matrix-synapse'
"$venv/bin/python" -c 'import synapse.app.homeserver'
echo "synapse installed in $venv ($("$venv/bin/python" -c 'import synapse; print(synapse.__version__)'))"
