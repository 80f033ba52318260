#!/usr/bin/env bash
# Installs what building and testing Hearth needs on Debian/Ubuntu, idempotently.
#   bash installers/deps.sh          # to build and run the headless gateway
#   bash installers/deps.sh --test   # plus what the test suite needs
# Anything already present is left alone; nothing is downloaded when nothing is missing.
set -euo pipefail

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian packages: a C compiler for the crates that build C (SQLite, ring), and curl/ca-certificates
# for rustup when Rust is missing.
apt_pkgs=(build-essential pkg-config ca-certificates curl)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Rust: the toolchain from rustup (Debian's rustc is too old for edition 2024).
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "==> installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi
need_version="1.90"
have_version="$(rustc --version | awk '{print $2}')"
if [ "$(printf '%s\n%s\n' "$need_version" "$have_version" | sort -V | head -n1)" != "$need_version" ]; then
  echo "==> Rust $have_version is older than $need_version; updating"
  rustup update stable
fi

if [ "$want_test" = 1 ]; then
  if ! cargo clippy --version >/dev/null 2>&1; then rustup component add clippy; fi
  if ! cargo fmt --version >/dev/null 2>&1; then rustup component add rustfmt; fi
  # The official OpenAI Python SDK, to prove the OpenAI-compatible endpoint works with it.
  venv="${HEARTH_TEST_VENV:-$HOME/.cache/hearth/test-venv}"
  if ! "$venv/bin/python" -c "import openai" >/dev/null 2>&1; then
    echo "==> installing the openai Python SDK into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openai>=1.40"
  fi
  # The official MCP Python SDK: the test suite's MCP server (crates/hearth-test-utils/src/mcp_server.py).
  if ! "$venv/bin/python" -c "import mcp" >/dev/null 2>&1; then
    echo "==> installing the mcp Python SDK into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mcp>=1.0"
  fi
  if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
  fi
fi
