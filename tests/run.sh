#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash installers/deps.sh --test
if ! command -v cargo >/dev/null 2>&1; then export PATH="$HOME/.cargo/bin:$PATH"; fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> tests"
cargo nextest run --workspace --locked --no-fail-fast
