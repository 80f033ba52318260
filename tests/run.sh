#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash installers/deps.sh --test
# A real model server for tests/integration/real_model.rs (built once, then cached).
bash tests/llm/setup.sh
# A real Matrix homeserver (Synapse, from PyPI) for the Matrix channel's end-to-end test.
bash tests/matrix/setup-synapse.sh
if ! command -v cargo >/dev/null 2>&1; then export PATH="$HOME/.cargo/bin:$PATH"; fi
# The Control UI: built first (the gateway embeds ui/dist), then its type check and unit tests.
bash installers/build-ui.sh --test
# playwright-core for the browser end-to-end tests (tests/integration/browser.rs drives Debian's Chromium).
bash installers/npm-ci.sh tests/e2e

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> benchmark smoke run (debug build: checks the benchmark works; figures are meaningless)"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --locked -p hearth-cli -p hearth-bench
"$target_dir/debug/hearth-bench" --binary "$target_dir/debug/hearth" --starts 1 --messages 20 --per-worker 2 --settle 0 > /dev/null

echo "==> tests"
cargo nextest run --workspace --locked --no-fail-fast
